#!/usr/bin/env bash
# Held-out photographs: 14 real photos that no run of this project trained, validated or was
# tuned on (the shared photos are all used), from Debian's lomiri-wallpapers-16.04 and
# -20.04 (Ubuntu Touch community photos; CC-BY-4.0, CC-BY-SA-4.0 or CC0-1.0 per file, as the
# packages' copyright files say). The folder has the shared photos' layout (val/ holds them,
# with no train/ or faces/), so benchmarks/eval_crops.py cuts the same five sets from it.
#
#   bash benchmarks/fetch_heldout_photos.sh benchmarks/data/heldout
#
# Needs apt-get download (root for apt-get update) and dpkg. Idempotent. Keep the photos out
# of the repository (benchmarks/data/ is ignored).
set -euo pipefail
dest=${1:?usage: fetch_heldout_photos.sh DEST}
mkdir -p "$dest/val" "$dest/.pkgs"
cd "$dest/.pkgs"
for pkg in lomiri-wallpapers-16.04 lomiri-wallpapers-20.04; do
  [ -d "$pkg" ] && continue
  apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get download "$pkg" >/dev/null; }
  dpkg -x "$pkg"_*.deb "$pkg" && rm -f "$pkg"_*.deb
done
# The photographs only: the packages' abstract and painted wallpapers (analogpattern, umang,
# Fossa, Infinite-Sea, Painting-Colors) are left out.
photos="16.04:Bridge_by_Sander_Klootwijk 16.04:Dragonfly_by_Bolly 16.04:Picture_0B_by_freespace
16.04:Picture_1A_by_freespace 16.04:Wine_by_Jakkub_Mede 16.04:aitzgorri_by_Aitzol_Berasategi
16.04:free_by_Peter_Nerlich 16.04:friends_by_Aitzol_Berasategi 16.04:greentock_by_Peter_Nerlich
16.04:life_by_Aitzol_Berasategi 16.04:picosdeeuropa_by_Aitzol_Berasategi
16.04:seeding_by_Clements_Engelhardt 16.04:sunset_by_Aitzol_Berasategi
20.04:Kleiber_by_Lukas_Baubkus"
: > ../SOURCES.tsv
for entry in $photos; do
  release=${entry%%:*} name=${entry#*:}
  src="lomiri-wallpapers-$release/usr/share/backgrounds/$name.jpg"
  cp -f "$src" "../val/$name.jpg"
  licence=$(awk -v f="Files: $release/$name.jpg" '$0 == f {found = 1} found && /^License:/ {print $2; exit}' \
    "lomiri-wallpapers-$release/usr/share/doc/lomiri-wallpapers-$release/copyright")
  printf '%s\t%s\t%s\n' "val/$name.jpg" "$src" "${licence:-see the copyright file}" >> ../SOURCES.tsv
done
echo "held-out photos: $(ls ../val | wc -l) in $dest/val"
