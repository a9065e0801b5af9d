"""MATLAB-compatible bicubic resize: parity with a per-pixel reference, known facts, shapes."""

import math

import numpy as np
import pytest
import torch

from yoda_sr.imaging import downscale, imresize, make_lr, quantize, upscale_bicubic


def _keys_cubic(x: float) -> float:
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax**3 - 2.5 * ax**2 + 1
    if ax <= 2:
        return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return 0.0


def _mirror(j: int, n: int) -> int:
    """1-based index j reflected into 1..n with the edge pixel repeated (..., 2, 1, | 1, 2, ...)."""
    while j < 1 or j > n:
        j = 1 - j if j < 1 else 2 * n + 1 - j
    return j


def _reference_1d(signal: np.ndarray, scale: float, out_len: int) -> np.ndarray:
    """Per-output-pixel evaluation of MATLAB imresize's formula along one axis, with loops."""
    n = len(signal)
    out = np.zeros(out_len)
    stretch = scale < 1
    width = 4 / scale if stretch else 4.0
    for i in range(1, out_len + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        total = 0.0
        acc = 0.0
        for j in range(left, left + math.ceil(width) + 2):
            w = scale * _keys_cubic(scale * (u - j)) if stretch else _keys_cubic(u - j)
            total += w
            acc += w * signal[_mirror(j, n) - 1]
        out[i - 1] = acc / total
    return out


def _reference_2d(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape
    out_h, out_w = math.ceil(h * scale - 1e-9), math.ceil(w * scale - 1e-9)
    rows = np.stack([_reference_1d(image[:, c], scale, out_h) for c in range(w)], axis=1)
    return np.stack([_reference_1d(rows[r], scale, out_w) for r in range(out_h)], axis=0)


@pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.25, 0.125, 0.6, 2.0, 3.0, 1.5])
def test_imresize_matches_per_pixel_matlab_formula(scale):
    rng = np.random.default_rng(0)
    image = rng.random((11, 13))
    expected = _reference_2d(image, scale)
    got = imresize(torch.from_numpy(image)[None], scale=scale)[0].numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_imresize_half_of_1234_matches_hand_derived_values():
    # Hand-derived from MATLAB's contributions(): normalised weights +-[0.01171875, 0.03515625,
    # 0.11328125, 0.43359375] over mirrored samples [3 2 1 1 2 3 4 4] -> 1.4609375, and by
    # symmetry 5 - 1.4609375 for the second output pixel.
    row = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]], dtype=torch.float64)
    got = imresize(row, size=(1, 2))
    np.testing.assert_allclose(got.flatten().numpy(), [1.4609375, 3.5390625], atol=1e-12)


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 2.0, 0.7])
def test_constant_image_stays_constant(scale):
    image = torch.full((3, 17, 23), 0.37, dtype=torch.float64)
    out = imresize(image, scale=scale)
    torch.testing.assert_close(out, torch.full_like(out, 0.37), atol=1e-12, rtol=0)


def test_downscale_by_one_is_identity():
    image = torch.rand(2, 3, 9, 7)
    torch.testing.assert_close(downscale(image, 1), image, atol=1e-6, rtol=0)


def test_x4_downscale_of_linear_ramp_is_linear_ramp_away_from_borders():
    n = 64
    ramp = torch.arange(1, n + 1, dtype=torch.float64).repeat(5, 1)[None]  # value = column index
    out = downscale(ramp, 4)[0, 0]
    # Output pixel i (1-based) samples u = 4 i - 1.5; the stretched kernel spans |u - j| < 8.
    i = torch.arange(1, n // 4 + 1, dtype=torch.float64)
    interior = (4 * i - 1.5 - 8 >= 1) & (4 * i - 1.5 + 8 <= n)
    assert interior.sum() >= 8
    torch.testing.assert_close(out[interior], 4 * i[interior] - 1.5, atol=1e-10, rtol=0)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
@pytest.mark.parametrize("hw", [(33, 17), (15, 9)])
def test_integer_scale_shapes_for_odd_sizes(scale, hw):
    h, w = hw
    lr = downscale(torch.rand(3, h, w), scale)
    assert lr.shape == (3, math.ceil(h / scale), math.ceil(w / scale))
    up = imresize(torch.rand(2, 3, h, w), scale=scale)
    assert up.shape == (2, 3, h * scale, w * scale)
    assert upscale_bicubic(lr, (h, w)).shape == (3, h, w)


@pytest.mark.parametrize("scale", [0.3, 1.1, 2.5])
def test_non_integer_scale_shape_is_ceil(scale):
    out = imresize(torch.rand(1, 21, 10), scale=scale)
    assert out.shape == (1, math.ceil(21 * scale - 1e-9), math.ceil(10 * scale - 1e-9))
    assert imresize(torch.rand(1, 10, 10), scale=1.1).shape[-2:] == (11, 11)


def test_batched_input_equals_per_image_results():
    batch = torch.rand(3, 3, 20, 12)
    out = imresize(batch, scale=0.5)
    singles = torch.stack([imresize(img, scale=0.5) for img in batch])
    torch.testing.assert_close(out, singles)


def test_dtype_device_preserved_and_differentiable():
    image = torch.rand(3, 8, 8, requires_grad=True)
    out = imresize(image, scale=0.5)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()


def test_no_clamping_bicubic_overshoots_at_edges():
    step = torch.zeros(1, 1, 8)
    step[..., 4:] = 1.0
    out = imresize(step, scale=4)
    assert out.min() < 0 and out.max() > 1


def test_upscale_bicubic_uses_same_kernel_as_imresize():
    lr = torch.rand(3, 6, 5)
    torch.testing.assert_close(upscale_bicubic(lr, (24, 20)), imresize(lr, scale=4))


def test_antialias_off_keeps_unstretched_kernel():
    image = torch.rand(1, 16, 16, dtype=torch.float64)
    plain = imresize(image, scale=0.5, antialias=False)
    smooth = imresize(image, scale=0.5)
    assert plain.shape == smooth.shape == (1, 8, 8)
    # Without antialiasing a random image keeps more variance (less low-pass filtering).
    assert plain.var() > smooth.var()


def test_bad_arguments_raise_clear_errors():
    image = torch.rand(3, 8, 8)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(image)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(image, scale=2, size=(16, 16))
    with pytest.raises(TypeError, match="floating-point"):
        imresize(image.to(torch.uint8), scale=0.5)
    with pytest.raises(ValueError, match="shape"):
        imresize(torch.rand(8, 8), scale=0.5)
    with pytest.raises(ValueError, match="positive integer"):
        downscale(image, 0)


def test_make_lr_mod_crops_and_quantises_matlab_bicubic():
    hr = torch.rand(3, 50, 47, generator=torch.Generator().manual_seed(0))
    cropped, lr = make_lr(hr, 4)
    assert cropped.shape == (3, 48, 44) and lr.shape == (3, 12, 11)
    torch.testing.assert_close(cropped, hr[:, :48, :44])
    torch.testing.assert_close(lr, quantize(downscale(cropped, 4)))
    assert torch.equal(lr * 255, (lr * 255).round())
