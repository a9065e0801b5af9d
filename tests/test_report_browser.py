"""The demo's report.html renders in headless Chromium with every image loaded (slow)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from yoda_sr.evaluation.demo import DemoSettings, run_demo

pytestmark = pytest.mark.slow

CHROMIUM = next(
    (
        path
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (path := shutil.which(name))
    ),
    None,
)
# Appended to a copy of the report (next to it, so relative links still resolve): after the
# load event it records which <img> elements failed to decode.
IMAGE_CHECK = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images
    .filter((img) => !(img.complete && img.naturalWidth > 0))
    .map((img) => img.getAttribute("src"));
  const out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = JSON.stringify({ total: images.length, broken: broken });
  document.body.appendChild(out);
});
</script>
"""


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "demo"
    return run_demo(out, DemoSettings.fast(), progress=False, log=lambda _: None).report


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_every_report_image_loads_in_chromium(demo_report, tmp_path):
    checked = demo_report.with_name("report_image_check.html")
    checked.write_text(demo_report.read_text().replace("</body>", IMAGE_CHECK + "</body>"))
    dom = chromium(tmp_path, "--dump-dom", checked.as_uri()).stdout
    match = re.search(r'<pre id="image-check">(.*?)</pre>', dom, re.S)
    assert match, "the check script did not run"
    result = json.loads(match.group(1).replace("&quot;", '"'))
    assert result["total"] >= 6
    assert result["broken"] == []


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_screenshot_is_not_blank(demo_report, tmp_path):
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", demo_report.as_uri())
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 20, "the page rendered (nearly) uniform"
