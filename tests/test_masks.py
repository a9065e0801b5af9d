"""Mask algebra of the YODA rule T * (A + l) >= t, checked against the rule stated in the test."""

import math
from fractions import Fraction

import pytest
import torch

from yoda_sr.masks import (
    active_fraction,
    blend,
    diffusion_mask,
    steps_per_pixel,
)

T = 50


def ramp(n: int = 101) -> torch.Tensor:
    return torch.linspace(0, 1, n).view(1, 1, 1, n)


def paper_steps(importance: str, lower: str, T: int) -> set[int]:
    """The paper's rule, independently of the implementation: the steps t in 1..T at which a
    pixel of importance A is diffused are those with T * (A + l) >= t, in exact arithmetic
    on the decimals as written (so A = 0.7, l = 0.3 gets all T steps)."""
    budget = T * (Fraction(importance) + Fraction(lower))
    return {t for t in range(1, T + 1) if budget >= t}


# Importance values as a user writes them; stored as float32 they are not exact (0.7f < 0.7).
DECIMALS = [f"{i / 100:.2f}" for i in range(101)]


@pytest.mark.parametrize("T", [7, 50, 2000])
@pytest.mark.parametrize("lower", ["0", "0.1", "0.25", "0.3"])
def test_masks_follow_the_paper_rule_step_by_step(T, lower):
    importance = torch.tensor([float(a) for a in DECIMALS]).view(1, 1, 1, -1)
    expected = [paper_steps(a, lower, T) for a in DECIMALS]
    for t in range(1, T + 1):  # diffusers' timestep index k is the paper's t - 1
        mask = diffusion_mask(importance, t - 1, T, float(lower)).flatten().tolist()
        assert mask == [float(t in steps) for steps in expected], f"t={t}"
    counts = steps_per_pixel(importance, T, float(lower)).flatten().tolist()
    assert counts == [len(steps) for steps in expected]


def test_respaced_sampling_counts_the_visited_steps_the_rule_allows():
    importance = torch.tensor([float(a) for a in DECIMALS]).view(1, 1, 1, -1)
    visited = list(range(T - 1, -1, -7))  # diffusers indices k of a DDIM-like subset
    counts = steps_per_pixel(importance, T, 0.25, timesteps=visited).flatten().tolist()
    assert counts == [
        sum(1 for k in visited if k + 1 in paper_steps(a, "0.25", T)) for a in DECIMALS
    ]


def test_mask_is_binary_and_grows_as_t_falls():
    a = torch.rand(2, 1, 9, 7, generator=torch.Generator().manual_seed(0))
    previous = torch.zeros_like(a)
    for k in reversed(range(T)):
        m = diffusion_mask(a, k, T, 0.2)
        assert set(m.unique().tolist()) <= {0.0, 1.0}
        assert torch.all(m >= previous)
        previous = m


def test_lower_bound_one_diffuses_everything_at_every_step():
    a = torch.rand(3, 1, 5, 5)
    for k in range(T):
        assert torch.all(diffusion_mask(a, k, T, 1.0) == 1)


def test_lower_bound_zero_and_zero_importance_diffuses_nothing():
    a = torch.zeros(1, 1, 4, 4)
    for k in range(T):
        assert torch.all(diffusion_mask(a, k, T, 0.0) == 0)


def test_every_pixel_gets_at_least_lower_bound_steps_and_full_importance_gets_all():
    a = ramp()
    lower = 0.3
    counts = steps_per_pixel(a, T, lower)
    assert counts.min() == math.floor(T * lower)
    assert torch.all(counts[a >= 1 - lower] == T)
    expected = torch.clamp(torch.floor(T * (a.double() + lower) + 1e-6 * T), max=T).long()
    assert torch.equal(counts, expected)


def test_batched_timesteps_give_per_sample_masks():
    a = ramp().expand(3, 1, 1, 101)
    ks = torch.tensor([0, 20, 49])
    batched = diffusion_mask(a, ks, T, 0.1)
    for i, k in enumerate(ks.tolist()):
        assert torch.equal(batched[i : i + 1], diffusion_mask(a[i : i + 1], k, T, 0.1))


def test_respaced_timesteps_count_only_visited_steps():
    a = ramp()
    visited = list(range(T - 1, -1, -10))  # 49, 39, ..., 9 (a DDIM-like subset)
    counts = steps_per_pixel(a, T, 0.0, timesteps=visited)
    for j, value in enumerate(a.flatten().tolist()):
        assert counts.flatten()[j] == sum(1 for k in visited if T * value >= k + 1 - 1e-6 * T)
    fractions = active_fraction(a, visited, T, 0.0)
    assert fractions.shape == (len(visited), 1)
    assert torch.all(fractions[1:] >= fractions[:-1])


def test_lower_bound_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match="lower_bound"):
        diffusion_mask(torch.zeros(1, 1, 2, 2), 0, T, 1.5)


def test_blend_with_full_mask_is_bit_identical_to_diffused():
    x, y = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.equal(blend(x, y, torch.ones(2, 1, 4, 4)), x)
    assert torch.equal(blend(x, y, torch.zeros(2, 1, 4, 4)), y)
