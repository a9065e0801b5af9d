"""Image grids (training samples, evaluation crops, comparison grids)."""

import torch

from yoda_sr.viz import image_grid


def test_image_grid_places_rows_left_and_top_aligned_on_white():
    a, b = torch.zeros(3, 10, 20), torch.full((3, 6, 8), 0.5)
    grid = image_grid([[a, b], [b]], gap=2)
    assert grid.shape == (3, 10 + 2 + 6, 20 + 2 + 8)
    assert torch.equal(grid[:, :10, :20], a)
    assert torch.equal(grid[:, :6, 22:], b) and torch.all(grid[:, 6:10, 22:] == 1)
    assert torch.equal(grid[:, 12:, :8], b) and torch.all(grid[:, 12:, 8:] == 1)


def test_titled_grid_enlarges_by_whole_factors_under_a_title_band():
    a, b = torch.rand(3, 10, 20), torch.rand(3, 6, 8)
    grid = image_grid([[("a", a), ("a long title for a narrow tile", b)]], min_tile=40)
    band = 20
    assert grid.shape == (3, band + 20, 40 + 2 + 16)
    assert torch.equal(grid[:, band:, :40], a.repeat_interleave(2, 1).repeat_interleave(2, 2))
    assert grid[:, :band].min() < 0.5  # the titles are written
