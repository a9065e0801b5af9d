"""yoda-sr: attention-guided diffusion super-resolution (YODA)."""

__version__ = "0.1.0"
