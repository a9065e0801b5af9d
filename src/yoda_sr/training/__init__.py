"""Training the model a config describes: the accelerate trainer (checkpoints on disk are
:mod:`yoda_sr.checkpoints`, the config :mod:`yoda_sr.config`)."""
