"""Sparse (windowed) denoiser evaluation: exactness, skipped work, batching, and sparse
sampling through the pipeline against dense sampling."""

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_SR3_OVERRIDES, gaussian_blob_importance

from yoda_sr.config import ExperimentConfig
from yoda_sr.metrics import psnr
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.pipeline.sparse import WindowedDenoiser


class Conv3(torch.nn.Module):
    """A 3x3 conv denoiser (receptive radius 1) that also adds upsampled LR features."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.calls = 0

    def forward(self, x, timesteps, features=None):
        self.calls += 1
        out = self.conv(x) + timesteps.view(-1, 1, 1, 1).float() * 1e-3
        if features is not None:
            out = out + F.interpolate(features, scale_factor=4, mode="nearest")
        return out


def inputs(batch=2, size=(48, 64)):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, *size, generator=gen)
    features = torch.randn(batch, 3, size[0] // 4, size[1] // 4, generator=gen)
    return x, torch.tensor([5, 9][:batch]), features


def test_cores_are_exact_when_the_halo_covers_the_receptive_field():
    model = Conv3()
    x, t, features = inputs()
    dense = model(x, t, features=features)
    windowed = WindowedDenoiser(model, core=8, halo=4, multiple=4, dense_above=float("inf"))
    out = windowed(x, t, active=None, features=features)
    torch.testing.assert_close(out, dense, rtol=0, atol=1e-6)
    assert windowed.stats.dense_calls == 0 and windowed.stats.windows == 2 * 6 * 8


def test_only_cores_with_an_active_pixel_are_evaluated_and_written():
    model = Conv3()
    x, t, features = inputs()
    active = torch.zeros(2, 1, 48, 64)
    active[0, :, 3, 5] = 1  # one pixel: one core of item 0
    active[1, :, 20:30, 40:50] = 1  # spans 2 x 2 cores of 8 px... plus partial ones
    windowed = WindowedDenoiser(model, core=8, halo=4, multiple=4)
    out = windowed(x, t, active=active, features=features)
    dense = model(x, t, features=features)
    cores = F.max_pool2d(active, 8, stride=8) > 0
    written = cores.repeat_interleave(8, -2).repeat_interleave(8, -1).expand_as(out)
    torch.testing.assert_close(out[written], dense[written], rtol=0, atol=1e-6)
    assert torch.all(out[~written] == 0)
    assert windowed.stats.windows == int(cores.sum()) == 1 + 4
    assert windowed.stats.pixels_evaluated == 5 * 16 * 16 < windowed.stats.pixels_dense


def test_nothing_active_makes_no_call():
    model = Conv3()
    x, t, features = inputs()
    windowed = WindowedDenoiser(model, core=8, halo=4, multiple=4)
    out = windowed(x, t, active=torch.zeros(2, 1, 48, 64), features=features)
    assert model.calls == 0 and windowed.stats.calls == 0 and torch.all(out == 0)


def test_many_active_cores_fall_back_to_one_full_image_call():
    model = Conv3()
    x, t, features = inputs()
    windowed = WindowedDenoiser(model, core=8, halo=4, multiple=4, dense_above=0.9)
    out = windowed(x, t, active=torch.ones(2, 1, 48, 64), features=features)
    assert torch.equal(out, model(x, t, features=features))
    assert windowed.stats.dense_calls == 1 and windowed.stats.windows == 0


def test_batched_windows_equal_windows_one_by_one_on_a_unet():
    from yoda_sr.models import SR3Backbone, SR3Config

    torch.manual_seed(0)
    model = SR3Backbone.from_settings(
        SR3Config(
            scale=4,
            block_out_channels=(16, 32),
            layers_per_block=1,
            attention_levels=(),
            dropout=0.0,
            norm_num_groups=8,
        )
    ).eval()
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1, 3, 64, 64, generator=gen)
    lr_up = torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1
    active = torch.zeros(1, 1, 64, 64)
    active[..., 10:40, 5:60] = 1
    t = torch.tensor([50])
    kwargs = {"core": 16, "halo": 8, "multiple": 4, "dense_above": float("inf")}
    with torch.no_grad():
        batched = WindowedDenoiser(model, **kwargs)
        single = WindowedDenoiser(model, max_pixels=32 * 32, **kwargs)
        batched_out = batched(x, t, active=active, lr_up=lr_up)
        single_out = single(x, t, active=active, lr_up=lr_up)
    torch.testing.assert_close(batched_out, single_out, rtol=0, atol=1e-5)
    assert batched_out.abs().sum() > 0
    assert batched.stats.calls == 1 and single.stats.calls == single.stats.windows > 1


def test_the_candidate_core_size_covering_the_fewest_pixels_is_used():
    model = Conv3()
    x, t, features = inputs(batch=1)
    active = torch.zeros(1, 1, 48, 64)
    active[..., 0:2, 0:2] = 1  # one corner: the smallest core wins
    windowed = WindowedDenoiser(model, core=(8, 32), halo=4, multiple=4)
    windowed(x, t, active=active, features=features)
    assert windowed.stats.windows == 1 and windowed.stats.pixels_evaluated == 16 * 16


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="core"):
        WindowedDenoiser(Conv3(), core=0, halo=4)
    with pytest.raises(ValueError, match="core"):
        WindowedDenoiser(Conv3(), core=(), halo=4)


@pytest.fixture(scope="module")
def pipe() -> YodaPipeline:
    config = ExperimentConfig.load("sr3_tiny", [*TINY_SR3_OVERRIDES, "sampling.steps=4"])
    torch.manual_seed(0)
    return YodaPipeline(build_model(config.model), config)


def sample(pipe: YodaPipeline, lr: torch.Tensor, **kwargs):
    return pipe(lr, generator=torch.Generator().manual_seed(3), **kwargs)


def test_sparse_equals_dense_where_every_pixel_is_active(pipe):
    lr = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    sparse = sample(pipe, lr, lower_bound=1.0, sparse=True)
    dense = sample(pipe, lr, lower_bound=1.0, sparse=False)
    assert torch.equal(sparse.images, dense.images)
    assert sparse.pixels_evaluated == dense.pixels_evaluated == dense.pixels_dense
    assert sparse.ideal_speedup == 1.0 and sparse.evaluated_fraction == 1.0


def test_sparse_sampling_makes_no_network_call_when_nothing_is_active(pipe):
    lr = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = sample(pipe, lr, lower_bound=0.0, importance=torch.zeros(1, 1, 128, 128), sparse=True)
    assert out.network_calls == 0 and out.pixels_evaluated == 0 and out.denoiser_calls == 0
    assert out.pixels_dense == 4 * 128 * 128
    torch.testing.assert_close(
        out.images, ((pipe.model.condition(lr)["lr_up"] + 1) / 2).clamp(0, 1)
    )


def test_sparse_output_is_close_to_dense_at_a_fraction_of_the_work(pipe):
    lr = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    importance = gaussian_blob_importance((128, 128), centers=((0.3, 0.3),), sigma=0.08)
    sparse = sample(pipe, lr, lower_bound=0.0, importance=importance, sparse=True)
    dense = sample(pipe, lr, lower_bound=0.0, importance=importance, sparse=False)
    assert psnr(sparse.images[0], dense.images[0]) > 35.0
    assert sparse.evaluated_fraction < 0.5 < dense.evaluated_fraction == 1.0
    assert sparse.ideal_speedup == dense.ideal_speedup > 2.0
