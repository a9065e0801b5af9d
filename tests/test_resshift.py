"""ResShift's chain (Yue et al. 2023) as a third backbone with YODA: the schedule, the
posterior, the prior and the input scaling against statements written afresh here; YODA's
invariants; the pipeline (tiles, save/load) and a training smoke test."""

import json
import math

import pytest
import torch
from conftest import gaussian_blob_importance
from PIL import Image

from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.diffusion import NoiseScheduleConfig, YodaConfig, make_scheduler, yoda_loss
from yoda_sr.diffusion import yoda_sample as run_chain
from yoda_sr.diffusion.resshift import ResShiftScheduler
from yoda_sr.models import build_model
from yoda_sr.models.resshift import ResShiftBackbone, ResShiftConfig
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer

PAPER = NoiseScheduleConfig(process="resshift", num_train_timesteps=15, prediction_type="sample")
TINY_RESSHIFT_OVERRIDES = [
    "model.block_out_channels=[16, 32]",
    "data.hr_size=32",
    "train.batch_size=2",
    "train.steps=3",
    "train.log_every=1",
    "train.checkpoint_every=3",
    "train.validate_every=3",
    "train.sample_every=3",
    "train.val_steps=4",
    "sampling.color_fix=none",  # the sampler's own output; the colour fix has its own tests
]


def expected_sqrt_etas(T, kappa, p, min_noise_level, end=0.99):
    """The official "exponential" schedule, restated: sqrt(eta_t) goes from
    sqrt(eta_1) = min(min_noise_level / kappa, min_noise_level) to ``end`` geometrically in
    ((t - 1) / (T - 1))^p."""
    first = min(min_noise_level / kappa, min_noise_level)
    return [first * (end / first) ** (((t - 1) / (T - 1)) ** p) for t in range(1, T + 1)]


def test_paper_schedule_rises_from_0_02_to_0_99_in_15_steps():
    scheduler = make_scheduler(PAPER)
    sqrt_etas = scheduler.sqrt_etas.tolist()
    assert sqrt_etas == pytest.approx(expected_sqrt_etas(15, 2.0, 0.3, 0.04), abs=1e-12)
    assert sqrt_etas[0] == pytest.approx(0.02) and sqrt_etas[-1] == pytest.approx(0.99)
    assert all(a < b for a, b in zip(sqrt_etas[:-1], sqrt_etas[1:], strict=True))
    # The official code's eta_T (0.99^2), not the paper's 0.99.
    assert float(scheduler.etas[-1]) == pytest.approx(0.9801)


def test_four_step_schedule_of_the_journal_version():
    config = NoiseScheduleConfig(
        process="resshift", num_train_timesteps=4, min_noise_level=0.2, prediction_type="sample"
    )
    sqrt_etas = make_scheduler(config).sqrt_etas.tolist()
    assert sqrt_etas == pytest.approx([0.1, 0.5201, 0.7614, 0.99], abs=1e-4)
    assert sqrt_etas == pytest.approx(expected_sqrt_etas(4, 2.0, 0.3, 0.2), abs=1e-12)


def _tensors(seed=0, shape=(2, 3, 4, 4)):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(shape, generator=g, dtype=torch.float64) * 1.6 - 0.8 for _ in range(3)]


def test_marginal_prior_and_input_scaling():
    scheduler = make_scheduler(PAPER)
    x0, y0, noise = _tensors()
    kappa, etas = 2.0, [s**2 for s in expected_sqrt_etas(15, 2.0, 0.3, 0.04)]
    k = torch.tensor([0, 9])
    x_t = scheduler.add_noise(x0, noise, k, y0)
    for i, t in enumerate(k.tolist()):
        # x_t = x_0 + eta_t (y_0 - x_0) + kappa sqrt(eta_t) eps
        expected = x0[i] + etas[t] * (y0[i] - x0[i]) + kappa * math.sqrt(etas[t]) * noise[i]
        torch.testing.assert_close(x_t[i], expected)
        # the network sees x_t / (3 kappa sqrt(eta_t) + 1)
        scaled = scheduler.scale_model_input(x_t, k)[i]
        torch.testing.assert_close(scaled, x_t[i] / (3 * kappa * math.sqrt(etas[t]) + 1))
    # x_T = y_0 + kappa sqrt(eta_T) eps, with sqrt(eta_T) = 0.99
    torch.testing.assert_close(scheduler.prior_sample(y0, noise), y0 + 2.0 * 0.99 * noise)


@pytest.mark.parametrize(("steps", "k", "s"), [(15, 9, 8), (15, 1, 0), (4, 14, 10)])
def test_step_samples_the_posterior_written_from_bayes_rule(steps, k, s):
    scheduler = make_scheduler(PAPER)
    scheduler.set_timesteps(steps)
    assert scheduler.previous_timestep(k) == s
    x0, x_t, _ = _tensors(1)
    out = scheduler.step(x0, k, x_t, generator=torch.Generator().manual_seed(5))
    # q(x_s | x_0) = N(x_0 + eta_s e, kappa^2 eta_s) and q(x_k | x_s) = N(x_s + (eta_k -
    # eta_s) e, kappa^2 (eta_k - eta_s)), e = y_0 - x_0: the product of the two Gaussians in
    # x_s is the posterior; e cancels from its mean, so any y_0 gives the same.
    eta_k, eta_s = (v**2 for v in (scheduler.sqrt_etas[k].item(), scheduler.sqrt_etas[s].item()))
    e = torch.randn(x0.shape, generator=torch.Generator().manual_seed(9), dtype=x0.dtype)
    precision = 1 / (4 * eta_s) + 1 / (4 * (eta_k - eta_s))
    mean = (x0 + eta_s * e) / (4 * eta_s) + (x_t - (eta_k - eta_s) * e) / (4 * (eta_k - eta_s))
    mean = mean / precision
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(5), dtype=x0.dtype)
    torch.testing.assert_close(out.prev_sample, mean + precision**-0.5 * noise)


def test_last_step_returns_the_predicted_x0_without_noise():
    scheduler = make_scheduler(PAPER)
    scheduler.set_timesteps(15)
    x0, x_t, _ = _tensors(2)
    assert torch.equal(scheduler.step(x0, 0, x_t).prev_sample, x0)


def test_resshift_samples_only_with_its_posterior():
    with pytest.raises(ValueError, match="sampler must be one of ddpm with diffusion.process"):
        make_scheduler(PAPER, "ddim")
    with pytest.raises(ValueError, match="prediction_type must be 'sample'"):
        NoiseScheduleConfig(process="resshift")
    with pytest.raises(ValueError, match="sampling.sampler must be one of ddpm"):
        ExperimentConfig.load("resshift_tiny", ["sampling.sampler=ddim"])
    with pytest.raises(ValueError, match="diffusion.process must be resshift"):
        ExperimentConfig.load("resshift_tiny", ["diffusion.process=gaussian"])
    with pytest.raises(ValueError, match="diffusion.process must be gaussian"):
        ExperimentConfig.load(
            "sr3_tiny", ["diffusion.process=resshift", "diffusion.prediction_type=sample"]
        )


def tiny_resshift(seed=0) -> ResShiftBackbone:
    torch.manual_seed(seed)
    config = ResShiftConfig(
        scale=2,
        block_out_channels=(16, 32),
        layers_per_block=1,
        attention_levels=(),
        dropout=0.0,
        norm_num_groups=8,
    )
    return ResShiftBackbone.from_settings(config).eval()


def sample(model, importance, lower_bound, steps=15, seed=0):
    lr = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    cond = model.condition(lr)
    out = run_chain(
        model,
        make_scheduler(PAPER),
        anchor=model.anchor(cond),
        importance=importance,
        condition=cond,
        lower_bound=lower_bound,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(seed),
    )
    return out, cond


@pytest.mark.parametrize("steps", [15, 4])
def test_lower_bound_one_is_bit_identical_to_plain_resshift(steps):
    model = tiny_resshift()
    yoda, _ = sample(model, gaussian_blob_importance((16, 16), batch=2), 1.0, steps)
    base, _ = sample(model, None, 0.2, steps)
    assert torch.equal(yoda.sample, base.sample)
    assert yoda.denoiser_calls == base.denoiser_calls == steps


def test_zero_importance_and_zero_lower_bound_returns_y0():
    model = tiny_resshift()
    out, cond = sample(model, torch.zeros(2, 1, 16, 16), 0.0)
    assert torch.equal(out.sample, cond["lr_up"])
    assert out.denoiser_calls == 0


@pytest.mark.parametrize("steps", [15, 7, 4, 1])
def test_oracle_chain_ends_on_x0_where_ever_active_and_on_y0_elsewhere(steps):
    gen = torch.Generator().manual_seed(3)
    x0, y0 = (torch.rand(1, 3, 8, 8, generator=gen, dtype=torch.float64) * 1.6 - 0.8 for _ in "ab")
    importance = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    importance[..., :4] = torch.linspace(0.05, 1.0, 32, dtype=torch.float64).view(1, 1, 8, 4)
    scheduler = make_scheduler(PAPER)
    out = run_chain(
        lambda x_t, t: x0.expand_as(x_t),  # the true x_0, whatever the input
        scheduler,
        anchor=y0,
        importance=importance,
        lower_bound=0.0,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(0),
    )
    # Diffused at least once iff T * A >= t_last, t_last = the last visited paper step.
    ever = (15 * importance >= min(out.timesteps) + 1).expand_as(x0)
    assert ever.any() and not ever.all()
    assert torch.equal(out.sample, torch.where(ever, x0, y0))


def test_loss_feeds_the_scaled_anchored_marginal_and_is_the_masked_x0_mse():
    seen = {}

    def denoiser(x, t):
        seen["x"], seen["t"] = x, t
        return torch.zeros_like(x)

    x0, y0, _ = _tensors(4, (3, 3, 8, 8))
    importance = torch.zeros(3, 1, 8, 8, dtype=torch.float64)
    importance[..., :4] = 1.0
    scheduler = make_scheduler(PAPER)
    config = YodaConfig(lower_bound=0.0, loss="l2")
    loss = yoda_loss(
        denoiser, scheduler, x0, y0, importance, config, generator=torch.Generator().manual_seed(0)
    )
    g = torch.Generator().manual_seed(0)
    t = torch.randint(0, 15, (3,), generator=g)
    noise = torch.randn(x0.shape, generator=g).to(x0.dtype)
    sqrt_eta = torch.tensor(expected_sqrt_etas(15, 2.0, 0.3, 0.04), dtype=x0.dtype)[t]
    sqrt_eta = sqrt_eta.view(-1, 1, 1, 1)
    diffused = x0 + sqrt_eta**2 * (y0 - x0) + 2.0 * sqrt_eta * noise
    anchored = y0 + 2.0 * sqrt_eta * noise  # q(x_t | x_0 = y_0)
    active = (15 * importance >= t.view(-1, 1, 1, 1) + 1).expand_as(x0)
    x_t = torch.where(active, diffused, anchored)
    assert torch.equal(seen["t"], t)
    torch.testing.assert_close(seen["x"], x_t / (3 * 2.0 * sqrt_eta + 1))
    torch.testing.assert_close(loss, (x0**2 * active).mean().float())


@pytest.fixture(scope="module")
def pipe() -> YodaPipeline:
    config = ExperimentConfig.load("resshift_tiny", TINY_RESSHIFT_OVERRIDES)
    torch.manual_seed(0)
    return YodaPipeline(build_model(config.model), config)


def lr_image(seed=0):
    return torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_pipeline_samples_15_steps_and_4_and_keeps_inactive_pixels_bicubic(pipe):
    out = pipe(lr_image(), generator=torch.Generator().manual_seed(0))
    assert out.images.shape == (1, 3, 32, 32) and len(out.timesteps) == 15
    assert pipe(lr_image(), num_inference_steps=4).timesteps == [14, 10, 7, 3]
    out = pipe(lr_image(), lower_bound=0.0, importance=torch.zeros(1, 1, 32, 32))
    bicubic = (pipe.model.condition(lr_image())["lr_up"] + 1) / 2
    torch.testing.assert_close(out.images, bicubic.clamp(0, 1))
    assert out.denoiser_calls == 0
    with pytest.raises(ValueError, match="sampler must be one of ddpm"):
        pipe.sampling_options(sampler="ddim")


def test_tiles_covering_the_image_in_one_piece_equal_the_untiled_output(pipe):
    a = pipe(lr_image(), generator=torch.Generator().manual_seed(0))
    b = pipe(lr_image(), generator=torch.Generator().manual_seed(0), tile=64)
    assert torch.equal(a.images, b.images)
    importance = torch.zeros(1, 1, 64, 64)
    importance[..., :8, :8] = 1.0
    lr = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    sparse = pipe(
        lr,
        num_inference_steps=2,
        lower_bound=0.0,
        importance=importance,
        sparse=True,
        generator=torch.Generator().manual_seed(0),
    )
    assert sparse.images.shape == (1, 3, 64, 64) and 0 < sparse.evaluated_fraction < 1


def test_save_pretrained_round_trip_writes_a_resshift_scheduler(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "scheduler" / "scheduler_config.json").read_text())
    assert saved["_class_name"] == "ResShiftScheduler" and saved["kappa"] == 2.0
    index = json.loads((tmp_path / "saved" / "model_index.json").read_text())
    assert index["scheduler"] == ["yoda_sr", "ResShiftScheduler"]
    assert index["backbone"] == ["yoda_sr", "ResShiftBackbone"]
    scheduler = ResShiftScheduler.from_pretrained(tmp_path / "saved", subfolder="scheduler")
    assert torch.equal(scheduler.sqrt_etas, make_scheduler(pipe.config.diffusion).sqrt_etas)
    loaded = YodaPipeline.from_pretrained(tmp_path / "saved")
    assert isinstance(loaded.model, ResShiftBackbone)
    assert loaded.config.to_dict() == pipe.config.to_dict()
    a = pipe(lr_image(), generator=torch.Generator().manual_seed(0))
    b = loaded(lr_image(), generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.images, b.images)


def test_train_a_few_steps_then_upscale_and_evaluate_from_the_cli(image_folder, tmp_path):
    overrides = [
        *TINY_RESSHIFT_OVERRIDES,
        f"data.train_dir={image_folder}",
        f"data.val_dir={image_folder}",
        "data.val_limit=2",
    ]
    run = tmp_path / "run"
    result = Trainer(ExperimentConfig.load("resshift_tiny", overrides), run).train(progress=False)
    assert result.step == 3 and all(math.isfinite(v) for v in result.losses)
    lr_path = tmp_path / "lr.png"
    Image.new("RGB", (9, 7), (120, 40, 200)).save(lr_path)
    assert (
        main(
            [
                "upscale",
                str(lr_path),
                "--model",
                str(run),
                "--out",
                str(tmp_path / "sr"),
                "--steps",
                "4",
            ]
        )
        == 0
    )
    with Image.open(tmp_path / "sr" / "lr_x4.png") as img:
        assert img.size == (36, 28)
    evaluated = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(run),
                "--data",
                str(image_folder),
                "--scale",
                "4",
                "--out",
                str(evaluated),
                "--steps",
                "2",
                "--limit",
                "1",
            ]
        )
        == 0
    )
    assert (evaluated / "summary.json").is_file()
