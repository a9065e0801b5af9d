"""Training data: HR folders with LR made on the fly, paired LR/HR folders, the importance-map
cache, and the ``data:`` config section."""
