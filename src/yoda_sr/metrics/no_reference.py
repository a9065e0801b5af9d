"""No-reference quality: PIQE (Venkatanath et al., "Blind Image Quality Evaluation Using
Perception Based Features", NCC 2015), computed offline with no learnt parameters.

PIQE scores distortion in the spatially active blocks of an image, from its mean-subtracted
contrast-normalised (MSCN) coefficients; 0 is best, 100 worst. Written from the paper, with
MATLAB's ``piqe`` conventions where the paper leaves a choice (noted):

1. Gray levels ``I`` in 0..255 (MATLAB ``rgb2gray``: 0.2989 R + 0.5870 G + 0.1140 B),
   padded at the bottom and right by edge replication to multiples of 16.
2. MSCN: ``(I - mu) / (sigma + 1)``, ``mu`` and ``sigma^2 = G * I^2 - mu^2`` local moments
   under a 7 x 7 Gaussian of sigma 7/6 (replicated borders).
3. Non-overlapping 16 x 16 blocks; a block is active when the variance ``v`` of its MSCN
   coefficients exceeds 0.1.
4. Noticeable distortion (blockiness, blur edges): some segment of 6 consecutive pixels
   along one of the block's four 1-pixel edges (11 segments per edge) has a standard
   deviation below 0.1.
5. Noise: with ``s = sqrt(v)`` and ``r`` the ratio of the standard deviations of the block's
   two centre columns and of its other columns, ``beta = |s - r| / max(s, r)``; noisy when
   ``s > 2 beta``.
6. Block score ``[noticeable] (1 - v)^2 + [noisy] v^2`` (MATLAB squares the paper's
   ``1 - v`` and ``v``), and ``PIQE = 100 (C + sum of block scores) / (C + active blocks)``,
   ``C = 1``. Variances and standard deviations are unbiased (``N - 1``), as MATLAB's.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from torch import Tensor

from yoda_sr.imaging import to_uint8

BLOCK = 16
ACTIVITY_THRESHOLD = 0.1
IMPAIRED_THRESHOLD = 0.1
SEGMENT = 6
_GRAY = np.array([0.2989, 0.5870, 0.1140])


def _mscn(gray: np.ndarray) -> np.ndarray:
    sigma = 7 / 6
    truncate = 3 / sigma  # a 7 x 7 window
    mu = ndimage.gaussian_filter(gray, sigma, mode="nearest", truncate=truncate)
    second = ndimage.gaussian_filter(gray * gray, sigma, mode="nearest", truncate=truncate)
    return (gray - mu) / (np.sqrt(np.abs(second - mu * mu)) + 1.0)


def piqe(image: np.ndarray | Tensor) -> float:
    """PIQE of an RGB image: a float (3, H, W) tensor in [0, 1] or a uint8 (H, W, 3) array.

    Returns a score in [0, 100]; lower is better (see the module docstring).
    """
    pixels = to_uint8(image).astype(np.float64)
    gray = pixels @ _GRAY if pixels.ndim == 3 else pixels
    h, w = gray.shape
    gray = np.pad(gray, ((0, -h % BLOCK), (0, -w % BLOCK)), mode="edge")
    mscn = _mscn(gray)
    rows, cols = mscn.shape[0] // BLOCK, mscn.shape[1] // BLOCK
    blocks = mscn.reshape(rows, BLOCK, cols, BLOCK).transpose(0, 2, 1, 3).reshape(-1, BLOCK, BLOCK)
    variance = blocks.reshape(len(blocks), -1).var(axis=1, ddof=1)
    active = variance > ACTIVITY_THRESHOLD
    blocks, variance = blocks[active], variance[active]
    if not len(blocks):
        return 100.0  # no active block: 100 (C + 0) / (C + 0)
    # 4: the four edges, each cut into 11 overlapping segments of 6 pixels.
    edges = np.stack([blocks[:, 0, :], blocks[:, -1, :], blocks[:, :, 0], blocks[:, :, -1]], 1)
    segments = np.lib.stride_tricks.sliding_window_view(edges, SEGMENT, axis=2)
    noticeable = (segments.std(axis=-1, ddof=1) < IMPAIRED_THRESHOLD).any(axis=(1, 2))
    # 5: centre (the two middle columns) against surround (the others).
    middle = [BLOCK // 2 - 1, BLOCK // 2]
    centre = blocks[:, :, middle].reshape(len(blocks), -1).std(axis=1, ddof=1)
    others = np.delete(blocks, middle, axis=2).reshape(len(blocks), -1).std(axis=1, ddof=1)
    ratio = centre / others
    sigma = np.sqrt(variance)
    beta = np.abs(sigma - ratio) / np.maximum(sigma, ratio)
    noisy = sigma > 2 * beta
    scores = noticeable * (1 - variance) ** 2 + noisy * variance**2
    return float(100.0 * (1.0 + scores.sum()) / (1.0 + len(blocks)))
