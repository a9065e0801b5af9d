"""The local web UI behind ``yoda-sr ui``: :mod:`yoda_sr.ui.session` does the work (no
gradio), :mod:`yoda_sr.ui.app` builds and serves the Gradio page (the ``[ui]`` extra)."""
