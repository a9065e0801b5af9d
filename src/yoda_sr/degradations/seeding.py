"""Per-sample random generators: every random degradation draws from its own stream."""

from __future__ import annotations

import numpy as np


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of sample ``index`` in ``epoch`` of a run seeded with ``seed``.

    numpy's PCG64 seeded by ``SeedSequence([seed, epoch, index])``: a function of the three
    integers alone (no process or worker state), so a resumed run, any number of loader
    workers and any process draw the same degradation for the same sample, and a different
    triple gives an independent stream. Evaluation sets use ``epoch = 0``.
    """
    for name, value in (("seed", seed), ("epoch", epoch), ("index", index)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"sample_rng: {name} must be an integer >= 0, got {value!r}")
    return np.random.default_rng([int(seed), int(epoch), int(index)])
