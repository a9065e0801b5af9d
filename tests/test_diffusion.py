"""YODA objective and sampler invariants on a tiny SR3 and toy denoisers."""

import pytest
import torch

from yoda_sr.diffusion import (
    NoiseScheduleConfig,
    ObjectiveConfig,
    make_scheduler,
    yoda_loss,
    yoda_sample,
)
from yoda_sr.masks import gaussian_blob_importance, steps_per_pixel
from yoda_sr.models import SR3Backbone, SR3Config

SCHEDULE = NoiseScheduleConfig(num_train_timesteps=100, beta_start=1e-4, beta_end=2e-2)


def tiny_sr3(seed: int = 0) -> SR3Backbone:
    torch.manual_seed(seed)
    config = SR3Config(
        scale=2,
        block_out_channels=(16, 32),
        layers_per_block=1,
        attention_levels=(),
        dropout=0.0,
        norm_num_groups=8,
    )
    return SR3Backbone(config).eval()


def sample(model, importance, lower_bound, sampler, steps, seed=0, **kwargs):
    lr = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    cond = model.condition(lr)
    return yoda_sample(
        model,
        make_scheduler(SCHEDULE, sampler),
        anchor=model.anchor(cond),
        importance=importance,
        condition=cond,
        lower_bound=lower_bound,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    ), cond


@pytest.mark.parametrize(("sampler", "steps"), [("ddpm", 100), ("ddim", 10), ("ddpm", 20)])
def test_lower_bound_one_is_bit_identical_to_baseline(sampler, steps):
    model = tiny_sr3()
    importance = gaussian_blob_importance((16, 16), batch=2)
    yoda, _ = sample(model, importance, 1.0, sampler, steps)
    base, _ = sample(model, None, 0.2, sampler, steps)
    assert torch.equal(yoda.sample, base.sample)
    assert yoda.denoiser_calls == base.denoiser_calls == steps
    assert yoda.active_fraction == [1.0] * steps


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_zero_importance_and_zero_lower_bound_returns_the_anchor(sampler):
    model = tiny_sr3()
    out, cond = sample(model, torch.zeros(2, 1, 16, 16), 0.0, sampler, 10)
    assert torch.equal(out.sample, model.anchor(cond))
    assert out.denoiser_calls == 0
    assert out.active_fraction == [0.0] * 10


def test_partial_masks_report_growing_activity_and_keep_inactive_pixels_on_anchor():
    model = tiny_sr3()
    importance = torch.zeros(2, 1, 16, 16)
    importance[:, :, :, :8] = 1.0  # left half important, right half never diffused (l = 0)
    out, cond = sample(model, importance, 0.0, "ddim", 10)
    anchor = model.anchor(cond)
    assert torch.equal(out.sample[..., 8:], anchor[..., 8:])
    assert not torch.allclose(out.sample[..., :8], anchor[..., :8])
    assert out.active_fraction == [0.5] * 10


def test_ddim_masks_are_evaluated_at_visited_timesteps():
    model = tiny_sr3()
    importance = torch.linspace(0, 1, 16).view(1, 1, 1, 16).expand(2, 1, 16, 16).contiguous()
    out, _ = sample(model, importance, 0.1, "ddim", 10)
    counts = steps_per_pixel(importance, 100, 0.1, timesteps=out.timesteps)
    expected = [
        float(f)
        for f in (counts.float() > torch.arange(10, 0, -1).view(-1, 1, 1, 1, 1) - 1)
        .float()
        .mean(dim=(1, 2, 3, 4))
    ]
    assert out.timesteps[0] == 99 and len(out.timesteps) == 10
    assert out.active_fraction == pytest.approx(expected)
    assert out.active_fraction == sorted(out.active_fraction)


def test_same_seed_gives_same_sample_and_other_seed_differs():
    model = tiny_sr3()
    importance = gaussian_blob_importance((16, 16), batch=2)
    a, _ = sample(model, importance, 0.3, "ddpm", 10, seed=3)
    b, _ = sample(model, importance, 0.3, "ddpm", 10, seed=3)
    c, _ = sample(model, importance, 0.3, "ddpm", 10, seed=4)
    assert torch.equal(a.sample, b.sample)
    assert not torch.equal(a.sample, c.sample)


class Recorder(torch.nn.Module):
    """Denoiser whose output is a learnable tensor; records its inputs."""

    def __init__(self, shape):
        super().__init__()
        self.output = torch.nn.Parameter(torch.zeros(shape))
        self.inputs = []

    def forward(self, x_t, timesteps):
        self.inputs.append((x_t.detach().clone(), timesteps.clone()))
        return self.output


def half_importance() -> torch.Tensor:
    importance = torch.zeros(4, 1, 8, 8)
    importance[..., :4] = 1.0
    return importance


def test_loss_only_reaches_masked_pixels():
    scheduler = make_scheduler(SCHEDULE)
    denoiser = Recorder((4, 3, 8, 8))
    x0, anchor = torch.ones(4, 3, 8, 8), -torch.ones(4, 3, 8, 8)
    config = ObjectiveConfig(lower_bound=0.0)
    loss = yoda_loss(denoiser, scheduler, x0, anchor, half_importance(), config)
    loss.backward()
    grad = denoiser.output.grad
    assert torch.all(grad[..., 4:] == 0)
    assert torch.all(grad[..., :4] != 0)
    # L1 normalised by the masked element count: each masked element's gradient is 1/count.
    assert grad[..., :4].abs().unique().tolist() == pytest.approx([1 / (4 * 3 * 8 * 4)])


@pytest.mark.parametrize("input_mode", ["anchored", "plain"])
def test_anchored_inputs_noise_the_anchor_outside_the_mask(input_mode):
    scheduler = make_scheduler(SCHEDULE)
    denoiser = Recorder((4, 3, 8, 8))
    x0, anchor = torch.ones(4, 3, 8, 8), -torch.ones(4, 3, 8, 8)
    config = ObjectiveConfig(lower_bound=0.0, input_mode=input_mode)
    yoda_loss(
        denoiser,
        scheduler,
        x0,
        anchor,
        half_importance(),
        config,
        generator=torch.Generator().manual_seed(0),
    )
    x_t, timesteps = denoiser.inputs[0]
    # Reference draws: same generator order as the objective (timesteps, then noise).
    g = torch.Generator().manual_seed(0)
    t_ref = torch.randint(0, 100, (4,), generator=g)
    noise = torch.randn(4, 3, 8, 8, generator=g)
    assert torch.equal(timesteps, t_ref)
    abar = scheduler.alphas_cumprod[t_ref].view(-1, 1, 1, 1)
    on_x0 = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    on_anchor = abar.sqrt() * anchor + (1 - abar).sqrt() * noise
    torch.testing.assert_close(x_t[..., :4], on_x0[..., :4])
    expected_right = on_anchor[..., 4:] if input_mode == "anchored" else on_x0[..., 4:]
    torch.testing.assert_close(x_t[..., 4:], expected_right)


def test_disabled_yoda_is_a_plain_mean_loss():
    scheduler = make_scheduler(SCHEDULE)
    denoiser = Recorder((4, 3, 8, 8))
    x0 = torch.ones(4, 3, 8, 8)
    loss = yoda_loss(
        denoiser,
        scheduler,
        x0,
        x0,
        torch.zeros(4, 1, 8, 8),
        ObjectiveConfig(enabled=False, loss="l2"),
        generator=torch.Generator().manual_seed(0),
    )
    g = torch.Generator().manual_seed(0)
    torch.randint(0, 100, (4,), generator=g)
    noise = torch.randn(4, 3, 8, 8, generator=g)
    torch.testing.assert_close(loss, (noise**2).mean())
