"""yoda-sr: attention-guided diffusion super-resolution (YODA)."""

__version__ = "0.2.0"
