"""Headless Chromium for driving the web UI (browser test, screenshots); no imports."""

from __future__ import annotations

import shutil

# No sandbox (runs as root in containers), and no background fetches: on a machine without
# network access Chromium's update/sync/QUIC connections only fail, many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) binary on PATH, else None."""
    names = ("chromium", "chromium-browser", "google-chrome")
    return next((path for name in names if (path := shutil.which(name))), None)
