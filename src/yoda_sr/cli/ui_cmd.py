"""``yoda-sr ui``: the local web UI (Gradio, the ``[ui]`` extra)."""

from __future__ import annotations

import argparse
import importlib.util
import socket
import sys

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MISSING_GRADIO = (
    "yoda-sr ui: error: the web UI needs gradio, which is not installed; install the [ui] "
    "extra: pip install 'yoda-sr[ui]' (from a checkout: pip install -e '.[ui]')"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="local web UI: upload an image, upscale it and see where and when YODA diffuses",
        description=(
            "Serve a web page (Gradio) on --host:--port to upscale an uploaded image with a "
            "model and show its importance map, the YODA mask at any step t, the output "
            "against bicubic, the numbers (and PSNR/SSIM against an HR reference), and the "
            "output PNG to download. Needs the [ui] extra (pip install 'yoda-sr[ui]')."
        ),
    )
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="a bundled model name, model folder, run folder or Hub id offered in the page "
        "besides the bundled models (repeatable; the first is selected, else the bundled "
        "default; other folders can be typed in the page)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0: "
        "every interface)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--share",
        action="store_true",
        help="also serve through a public gradio.live link (off by default)",
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted: 0; 2 when the host does not resolve, the port is out of range
    or taken, gradio is missing, or the device does not exist."""
    if not 0 < args.port < 65536:
        print(f"yoda-sr ui: error: --port must lie in 1..65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(
            f"yoda-sr ui: error: --host {args.host!r} is not an address to listen on ({reason}); "
            f"give an address of this machine or its name, e.g. {DEFAULT_HOST} or 0.0.0.0",
            file=sys.stderr,
        )
        return 2
    if importlib.util.find_spec("gradio") is None:
        print(MISSING_GRADIO, file=sys.stderr)
        return 2
    from yoda_sr.device import resolve_device
    from yoda_sr.ui.app import build_app, launch
    from yoda_sr.ui.session import offered_models

    try:
        device = resolve_device(args.device)
        models, selected = offered_models(args.model or [])
        app = build_app(models, default=selected, device=device)
        launch(app, args.host, args.port, args.share)
    except (ValueError, OSError) as exc:
        print(f"yoda-sr ui: error: {exc}", file=sys.stderr)
        return 2
    return 0
