"""The web UI in headless Chromium (Playwright): upload -> run -> result (slow).

Needs the [test-ui] extra (gradio, playwright) and a Chromium binary (``chromium`` on PATH,
e.g. ``apt-get install chromium``; Playwright's own browser download is not used). With
``YODA_SR_UI_SCREENSHOT=docs/ui.png`` the page with its results is also saved there.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
import torch
from conftest import TINY_SR3_OVERRIDES, write_test_images

from yoda_sr.imaging import load_image
from yoda_sr.ui.chromium import CHROMIUM_ARGS, find_chromium

pytestmark = pytest.mark.slow

pytest.importorskip("gradio", reason="the [ui] extra (gradio) is not installed")
playwright = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the [test-ui] extra)"
)
CHROMIUM = find_chromium()
# Sampling a tiny model on a shared 2-core CPU takes seconds; page loads and uploads less.
RUN_TIMEOUT_MS = 180_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app serving a tiny random SR3+YODA model on a free localhost port."""
    from yoda_sr.config import ExperimentConfig
    from yoda_sr.models import build_model
    from yoda_sr.pipeline import YodaPipeline
    from yoda_sr.ui.app import build_app, launch

    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ui-browser") / "tiny-sr3-random"
    YodaPipeline(build_model(config.model), config).save_pretrained(folder)
    app = build_app([str(folder)], device="cpu")
    port = free_port()
    launch(app, port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture
def page(app_url):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        yield page
        browser.close()


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def wait_for_text(page, selector: str, text: str, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.innerText.includes(text)",
        arg=[selector, text],
        timeout=timeout,
    )


def loaded_images(page, selector: str, count: int) -> list[tuple[int, int]]:
    """(naturalWidth, naturalHeight) of the decoded <img> elements under ``selector``, once
    there are ``count`` of them."""
    decoded = f"[...document.querySelectorAll('{selector} img')]" + (
        ".filter(i => i.complete && i.naturalWidth > 0)"
    )
    page.wait_for_function(f"{decoded}.length >= {count}")
    sizes = page.evaluate(f"{decoded}.map(i => [i.naturalWidth, i.naturalHeight])")
    return [tuple(size) for size in sizes]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH")
def test_upload_run_shows_output_numbers_and_metrics(page, tmp_path):
    broken = tmp_path / "holiday.png"
    broken.write_bytes(b"not a PNG at all")
    lr_path = write_test_images(tmp_path / "lr", count=1, size=24)[0]
    hr_path = write_test_images(tmp_path / "hr", count=1, size=64, seed=1)[0]
    hr_path = hr_path.rename(hr_path.with_name("reference.png"))

    wait_for_text(page, "#model-info", "SR3 x4")
    # A bad file: the loader's message in the page, the upload still replaceable.
    page.set_input_files("#lr-file input[type=file]", str(broken))
    toast = page.get_by_text("holiday.png: cannot read as an image").first
    toast.wait_for(timeout=60_000)
    assert "Traceback" not in page.inner_text("body")
    page.click("[data-testid=toast-close]")
    page.click("#lr-file button[aria-label='Clear']")

    page.set_input_files("#lr-file input[type=file]", str(lr_path))
    assert loaded_images(page, "#input", 1) == [(24, 24)]
    page.click("#run")
    wait_for_text(page, "#numbers", "denoiser calls", timeout=RUN_TIMEOUT_MS)
    numbers = text_of(page, "#numbers")
    assert "mean active fraction" in numbers and "96 x 96 px (from 24 x 24)" in numbers
    assert loaded_images(page, "#compare", 2) == [(96, 96), (96, 96)]  # bicubic, output
    assert loaded_images(page, "#importance", 1) == [(96, 96)]
    assert loaded_images(page, "#mask", 1) == [(96, 96)]
    assert "of pixels diffused" in text_of(page, "#mask-caption")
    page.fill("#t-slider input[type=number]", "100")
    page.press("#t-slider input[type=number]", "Enter")
    wait_for_text(page, "#mask-caption", "t = 100 of T = 100")
    with page.expect_download() as download:
        page.click("#download a")
    assert download.value.suggested_filename == "img00_x4.png"
    saved = tmp_path / "downloaded.png"
    download.value.save_as(saved)
    assert load_image(saved).shape == (3, 96, 96)

    # An HR reference: LR made from it, PSNR/SSIM of output and bicubic.
    page.set_input_files("#hr-file input[type=file]", str(hr_path))
    page.click("#run")
    wait_for_text(page, "#numbers", "PSNR-Y", timeout=RUN_TIMEOUT_MS)
    assert "64 x 64 px (from 16 x 16)" in text_of(page, "#numbers")
    wait_for_text(page, "#download", "reference_x4")

    # The example HR reference (the cat photo), picked from the examples table.
    page.get_by_text("chelsea_hr.png").first.click()
    page.wait_for_function("document.querySelector('#input img')?.naturalWidth === 192")
    page.click("#run")
    wait_for_text(page, "#numbers", "192 x 192 px (from 48 x 48)", timeout=RUN_TIMEOUT_MS)
    assert "PSNR-Y" in text_of(page, "#numbers")
    assert loaded_images(page, "#compare", 2) == [(192, 192), (192, 192)]
    shot = tmp_path / "ui.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("YODA_SR_UI_SCREENSHOT"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
