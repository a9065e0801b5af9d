"""Screenshot of `yoda-sr ui` upscaling the example cat crop with a real model (docs/ui.png).

    python benchmarks/ui_screenshot.py --model srdiff-yoda-x4 --out docs/ui.png

Serves the app on a free localhost port, drives headless Chromium (Playwright, the system's
``chromium``; needs the [test-ui] extra) through: pick the example HR reference -> Upscale ->
wait for PSNR/SSIM, and saves the full page. The browser test (tests/test_ui_browser.py)
checks the page's behaviour with a tiny random model; this script only shows a trained one.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

from playwright.sync_api import sync_playwright

from yoda_sr.ui.app import build_app, launch
from yoda_sr.ui.chromium import CHROMIUM_ARGS, find_chromium


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="srdiff-yoda-x4", help="bundled name or folder")
    parser.add_argument("--out", type=Path, default=Path("docs/ui.png"))
    parser.add_argument("--timeout", type=int, default=600, help="seconds for the upscale")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no chromium binary on PATH (apt-get install chromium)")
    app = build_app([args.model], device="cpu")
    port = free_port()
    launch(app, port=port, block=False)
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_text("chelsea_hr.png").first.click()
            page.wait_for_function("document.querySelector('#input img')?.naturalWidth === 192")
            page.click("#run")
            page.wait_for_function(
                "document.querySelector('#numbers')?.innerText.includes('PSNR-Y')",
                timeout=args.timeout * 1000,
            )
            page.wait_for_timeout(1000)  # let the images decode before the shot
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            print(page.inner_text("#numbers"))
            browser.close()
    finally:
        app.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
