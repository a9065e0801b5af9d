#!/usr/bin/env bash
# What the 2-core CPU cannot reach, prepared as one call on a lent GPU (about 10 minutes):
#   1. the reproduction study's missing runs (benchmarks/reproduce.py --preset cpu, the same
#      tiny configs, so the rows join the CPU ones), 4 workers sharing the GPU (12 were
#      launch-bound at ~3 steps/s each on an H200), new training stopped after STUDY_MIN;
#      the ladder's 3000/10000-step runs are left out (GROUPS), since a started run trains to
#      its target;
#   2. alone afterwards: sparse vs dense at 512 and 1024 px (detail map, and DINOv2 when its
#      folder came along) with the bundled sr3-yoda-x4, and the training-throughput options.
# Usage, from the repository root on the device (the project importable, e.g. carried wheels
# on PYTHONPATH; the photos carried in benchmarks/data/photos; optionally a DINOv2 folder in
# benchmarks/out/dinov2_small; benchmarks/results travels with the repository):
#   STUDY_MIN=5 bash benchmarks/gpu_session.sh
# Comes back under $OUT: results/ (new study records: copy into benchmarks/results and
# commit), *.log (the benchmarks' printed tables), and the device's name.
set -u
out=${OUT:-/tmp/gpu_session}
study_min=${STUDY_MIN:-5}
device=${DEVICE:-cuda}
py=${PYTHON:-python3}
mkdir -p "$out"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
"$py" -c "import torch, yoda_sr; print(torch.cuda.get_device_name(0) if '$device' == 'cuda' else '$device')" \
  | tee "$out/device.txt" || exit 1
dinov2=()
if [ -f benchmarks/out/dinov2_small/config.json ]; then
  dinov2=(--dinov2 benchmarks/out/dinov2_small)
  mkdir -p /tmp/study && cp -r benchmarks/out/dinov2_small /tmp/study/  # the study's DINOv2 ablation
fi

study=("$py" benchmarks/reproduce.py --preset "${PRESET:-cpu}" --device "$device" --eval-batch 10
  --out /tmp/study --docs /tmp/study_docs --groups "${GROUPS:-main,ablation,batch,sampler}")
"${study[@]}" --groups none >"$out/study_rrdb.log" 2>&1
for i in 0 1 2 3; do
  "${study[@]}" --shard "$i/4" --max-minutes "$study_min" >"$out/study_$i.log" 2>&1 &
done
wait
cp -r benchmarks/results "$out/results"

"$py" benchmarks/sparse_speed.py --device "$device" --model sr3-yoda-x4 "${dinov2[@]}" \
  --sizes "${SPARSE_SIZES:-512,1024}" --limit "${SPARSE_LIMIT:-4}" >"$out/sparse_speed.log" 2>&1
"$py" benchmarks/sparse_conv.py --device "$device" --sizes "${CONV_SIZES:-32x512,64x256,96x128}" \
  >"$out/sparse_conv.log" 2>&1
"$py" benchmarks/train_throughput.py --device "$device" --skip yoda+compile \
  ${THROUGHPUT_ARGS:-} >"$out/train_throughput.log" 2>&1
tail -n 5 "$out"/*.log
