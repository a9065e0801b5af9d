"""ResShift in a VQ autoencoder's latent space (``model.type: resshift_latent``), with a tiny
randomly initialised ``VQModel`` standing in for LDM's VQ-f4."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import VQModel
from PIL import Image

from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.diffusion import NoiseScheduleConfig, make_scheduler
from yoda_sr.diffusion import yoda_sample as run_chain
from yoda_sr.masks import importance_on_grid
from yoda_sr.models import build_model
from yoda_sr.models.resshift import LatentResShiftBackbone
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer

TINY_VQ = (
    "model.vq={block_out_channels: [8, 16, 16], layers_per_block: 1, latent_channels: 3,"
    " num_vq_embeddings: 32, norm_num_groups: 4, vq_embed_dim: 3}"
)
TINY = [
    "model.block_out_channels=[16, 32]",
    "model.norm_num_groups=8",
    "model.attention_levels=[]",
    "model.autoencoder_subfolder=",
    TINY_VQ,
    "attention.source=detail",
    "data.hr_size=32",
    "data.num_workers=0",
    "train.batch_size=2",
    "train.steps=2",
    "train.log_every=1",
    "train.checkpoint_every=2",
    "train.validate_every=2",
    "train.sample_every=2",
    "train.val_steps=4",
    "sampling.color_fix=none",
]
LATENT = NoiseScheduleConfig(
    process="resshift",
    num_train_timesteps=15,
    prediction_type="sample",
    clip_sample=False,
    latent=True,
)


@pytest.fixture
def autoencoder(tmp_path) -> str:
    """A tiny random VQModel (factor 4) saved as a diffusers folder."""
    torch.manual_seed(7)
    vq = VQModel(
        block_out_channels=(8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        layers_per_block=1,
        latent_channels=3,
        num_vq_embeddings=32,
        norm_num_groups=4,
        vq_embed_dim=3,
    )
    vq.save_pretrained(tmp_path / "vq")
    return str(tmp_path / "vq")


def tiny_config(autoencoder: str, *extra: str) -> ExperimentConfig:
    return ExperimentConfig.load(
        "resshift_latent_x4", [*TINY, f"model.autoencoder={autoencoder}", *extra]
    )


def test_latent_input_scaling_is_the_official_sqrt_kappa2_eta_plus_1():
    scheduler = make_scheduler(LATENT)
    first = min(0.04 / 2.0, 0.04)
    etas = [(first * (0.99 / first) ** (((t - 1) / 14) ** 0.3)) ** 2 for t in range(1, 16)]
    x_t = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    k = torch.tensor([0, 11])
    scaled = scheduler.scale_model_input(x_t, k)
    for i, t in enumerate(k.tolist()):
        torch.testing.assert_close(scaled[i], x_t[i] / math.sqrt(4.0 * etas[t] + 1.0))


def test_a_latent_chain_needs_its_scaling_and_unclipped_x0():
    with pytest.raises(ValueError, match="diffusion.latent must be true"):
        ExperimentConfig.load("resshift_latent_x4", ["diffusion.latent=false"])
    with pytest.raises(ValueError, match="clip_sample false"):
        ExperimentConfig.load("resshift_latent_x4", ["diffusion.clip_sample=true"])
    with pytest.raises(ValueError, match="diffusion.latent must be false"):
        ExperimentConfig.load(
            "resshift_tiny", ["diffusion.latent=true", "diffusion.clip_sample=false"]
        )


def test_importance_pools_to_the_latent_grid_by_max_or_mean():
    importance = torch.zeros(1, 1, 8, 8)
    importance[0, 0, 1, 2] = 0.75  # one important pixel in the top-left 4 x 4 cell
    pooled_max = importance_on_grid(importance, (2, 2), "max")
    pooled_mean = importance_on_grid(importance, (2, 2), "mean")
    assert pooled_max.tolist() == [[[[0.75, 0.0], [0.0, 0.0]]]]
    torch.testing.assert_close(pooled_mean, torch.tensor([[[[0.75 / 16, 0.0], [0.0, 0.0]]]]))
    assert importance_on_grid(importance, (8, 8)) is importance
    with pytest.raises(ValueError, match="8x8 does not pool to the diffusion grid 3x3"):
        importance_on_grid(importance, (3, 3))


def test_oracle_latent_chain_keeps_y0_in_cells_never_active_and_x0_in_the_others():
    gen = torch.Generator().manual_seed(3)
    x0, y0 = (torch.randn(1, 3, 4, 4, generator=gen, dtype=torch.float64) for _ in "ab")
    importance = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    importance[..., 0, 0] = 1.0  # one pixel of the top-left cell
    importance[..., 8:, :] = 0.1  # the bottom half, too little for the last step at l = 0
    out = run_chain(
        lambda x_t, t: x0.expand_as(x_t),
        make_scheduler(LATENT),
        anchor=y0,
        importance=importance,
        lower_bound=0.0,
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(0),
    )
    ever = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    ever[..., 0, 0] = True
    assert torch.equal(out.sample, torch.where(ever.expand_as(x0), x0, y0))


def test_training_reads_the_autoencoder_and_a_saved_model_rebuilds_itself(autoencoder, tmp_path):
    from conftest import write_test_images

    images = tmp_path / "images"
    write_test_images(images)
    config = tiny_config(
        autoencoder, f"data.train_dir={images}", f"data.val_dir={images}", "data.val_limit=2"
    )
    run = tmp_path / "run"
    result = Trainer(config, run).train(progress=False)
    assert result.step == 2 and all(math.isfinite(v) for v in result.losses)
    pipe = YodaPipeline.from_pretrained(run)
    assert isinstance(pipe.model, LatentResShiftBackbone)
    source = VQModel.from_pretrained(autoencoder).state_dict()
    # The frozen weights the EMA kept: the source's, up to the EMA update's float rounding.
    for key, value in source.items():
        torch.testing.assert_close(pipe.model.vq.state_dict()[key], value)
    lr = torch.rand(1, 3, 9, 7, generator=torch.Generator().manual_seed(0))
    out = pipe(lr, generator=torch.Generator().manual_seed(0), num_inference_steps=4)
    assert out.images.shape == (1, 3, 36, 28)
    assert 0.0 <= float(out.images.min()) and float(out.images.max()) <= 1.0
    pipe.save_pretrained(tmp_path / "saved")
    again = YodaPipeline.from_pretrained(tmp_path / "saved")
    same = again(lr, generator=torch.Generator().manual_seed(0), num_inference_steps=4)
    assert torch.equal(out.images, same.images)
    with pytest.raises(ValueError, match="latent model .* samples whole images"):
        pipe(lr, tile=16)
    lr_path = tmp_path / "lr.png"
    Image.new("RGB", (6, 5), (120, 40, 200)).save(lr_path)
    assert main(["upscale", str(lr_path), "--model", str(run), "--out", str(tmp_path / "sr")]) == 0
    with Image.open(tmp_path / "sr" / "lr_x4.png") as img:
        assert img.size == (24, 20)


def test_no_autoencoder_a_missing_one_or_another_architecture_is_a_clear_error(
    autoencoder, tmp_path
):
    model = build_model(tiny_config("").model)
    with pytest.raises(ValueError, match="model.autoencoder is empty"):
        model.prepare_for_training()
    model = build_model(tiny_config(str(tmp_path / "nowhere")).model)
    with pytest.raises(FileNotFoundError, match="nowhere: no VQ autoencoder could be read"):
        model.prepare_for_training()
    wider = TINY_VQ.replace("[8, 16, 16]", "[8, 16, 32]")
    model = build_model(tiny_config(autoencoder, wider).model)
    with pytest.raises(ValueError, match="architecture .* does not match model.vq"):
        model.prepare_for_training()
