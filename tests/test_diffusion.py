"""YODA objective and sampler invariants on a tiny SR3 and toy denoisers."""

import pytest
import torch
from conftest import gaussian_blob_importance

from yoda_sr.diffusion import (
    NoiseScheduleConfig,
    YodaConfig,
    make_scheduler,
    yoda_loss,
    yoda_sample,
)
from yoda_sr.masks import steps_per_pixel
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
    return SR3Backbone.from_settings(config).eval()


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


@pytest.mark.parametrize(
    ("normalization", "count"), [("all", 4 * 3 * 8 * 8), ("active", 4 * 3 * 8 * 4)]
)
def test_loss_only_reaches_masked_pixels(normalization, count):
    scheduler = make_scheduler(SCHEDULE)
    denoiser = Recorder((4, 3, 8, 8))
    x0, anchor = torch.ones(4, 3, 8, 8), -torch.ones(4, 3, 8, 8)
    config = YodaConfig(lower_bound=0.0, loss_normalization=normalization)
    loss = yoda_loss(denoiser, scheduler, x0, anchor, half_importance(), config)
    loss.backward()
    grad = denoiser.output.grad
    assert torch.all(grad[..., 4:] == 0)
    assert torch.all(grad[..., :4] != 0)
    # Paper's masked L1 mean |M * (eps - eps_theta)|: each masked element's gradient is
    # 1 / (all elements); the "active" option divides by the masked elements instead.
    assert grad[..., :4].abs().unique().tolist() == pytest.approx([1 / count])


def test_default_loss_weighs_an_active_pixel_the_same_whatever_else_is_active():
    scheduler = make_scheduler(SCHEDULE)
    x0, anchor = torch.ones(1, 3, 8, 8), -torch.ones(1, 3, 8, 8)
    few, many = torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
    few[..., 0, 0] = 1.0
    many[..., :4, :] = 1.0
    grads = {}
    for normalization in ("all", "active"):
        for name, importance in (("few", few), ("many", many)):
            denoiser = Recorder((1, 3, 8, 8))
            config = YodaConfig(lower_bound=0.0, loss_normalization=normalization)
            gen = torch.Generator().manual_seed(0)
            yoda_loss(denoiser, scheduler, x0, anchor, importance, config, generator=gen).backward()
            grads[normalization, name] = denoiser.output.grad[..., 0, 0]
    torch.testing.assert_close(grads["all", "few"], grads["all", "many"])
    assert not torch.allclose(grads["active", "few"], grads["active", "many"])


@pytest.mark.parametrize("input_mode", ["anchored", "plain"])
def test_anchored_inputs_noise_the_anchor_outside_the_mask(input_mode):
    scheduler = make_scheduler(SCHEDULE)
    denoiser = Recorder((4, 3, 8, 8))
    x0, anchor = torch.ones(4, 3, 8, 8), -torch.ones(4, 3, 8, 8)
    config = YodaConfig(lower_bound=0.0, input_mode=input_mode)
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
        YodaConfig(enabled=False, loss="l2"),
        generator=torch.Generator().manual_seed(0),
    )
    g = torch.Generator().manual_seed(0)
    torch.randint(0, 100, (4,), generator=g)
    noise = torch.randn(4, 3, 8, 8, generator=g)
    torch.testing.assert_close(loss, (noise**2).mean())


def _oracle_denoiser(x0: torch.Tensor, schedule: NoiseScheduleConfig):
    """Epsilon that a perfect network would predict for target ``x0``.

    Written from DDPM's forward process (Ho et al. 2020, Eq. 4) with SR3's linear betas,
    independently of the scheduler: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps. Betas in
    float32 as diffusers keeps them (1 - abar is ~1e-6 at t = 1 for SR3's betas, so float64
    betas alone would differ from any float32 schedule by more than the tolerance).
    """
    betas = torch.linspace(
        schedule.beta_start, schedule.beta_end, schedule.num_train_timesteps, dtype=torch.float32
    )
    abar = torch.cumprod(1.0 - betas, dim=0)

    def denoiser(x_t, timesteps):
        a = abar[timesteps].view(-1, 1, 1, 1).to(x_t.dtype)
        return (x_t - a.sqrt() * x0[: x_t.shape[0]]) / (1.0 - a).sqrt()

    return denoiser


def _oracle_run(schedule, steps, importance, lower_bound):
    gen = torch.Generator().manual_seed(3)
    x0 = torch.rand(1, 3, 8, 8, generator=gen, dtype=torch.float64) * 1.6 - 0.8
    anchor = torch.rand(1, 3, 8, 8, generator=gen, dtype=torch.float64) * 1.6 - 0.8
    out = yoda_sample(
        _oracle_denoiser(x0, schedule),
        make_scheduler(schedule, "ddim"),
        anchor=anchor,
        importance=importance,
        lower_bound=lower_bound,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(0),
    )
    return out, x0, anchor


def test_ddim_with_an_oracle_reproduces_x0_for_every_step_count():
    schedule = NoiseScheduleConfig(num_train_timesteps=100, beta_start=1e-4, beta_end=2e-2)
    for steps in range(1, 101):
        out, x0, _ = _oracle_run(schedule, steps, None, 0.0)
        assert (out.sample - x0).abs().max() < 1e-5, steps


@pytest.mark.parametrize("steps", [30, 7, 1999])
def test_ddim_with_an_oracle_reproduces_x0_at_uneven_spacings_of_sr3_schedule(steps):
    out, x0, _ = _oracle_run(NoiseScheduleConfig(), steps, None, 0.0)
    assert (out.sample - x0).abs().max() < 1e-5


def test_ddim_yoda_with_an_oracle_ends_on_x0_where_active_and_on_anchor_elsewhere():
    schedule = NoiseScheduleConfig(num_train_timesteps=100, beta_start=1e-4, beta_end=2e-2)
    importance = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    importance[..., :4] = torch.linspace(0.05, 1.0, 4 * 8, dtype=torch.float64).view(1, 1, 8, 4)
    for steps in (3, 7, 30, 64, 100):
        out, x0, anchor = _oracle_run(schedule, steps, importance, 0.0)
        # The pixel is diffused at least once iff T * A >= t_last, t_last = the last visited
        # paper step; with trailing spacing t_last = round(T / n) (diffusers' index + 1).
        t_last = min(int(k) for k in out.timesteps) + 1
        ever = (100 * importance >= t_last).expand_as(x0)
        expected = torch.where(ever, x0, anchor)
        assert (out.sample - expected).abs().max() < 1e-5, steps
