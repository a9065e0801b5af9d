"""SRDiff: stage 1 (RRDB regression) -> stage 2 (residual diffusion) with YODA, end to end."""

import pytest
import torch
from conftest import TWO_STEP_TRAINING_OVERRIDES

from yoda_sr.checkpoints import list_checkpoints
from yoda_sr.config import ExperimentConfig
from yoda_sr.models.rrdb_files import RRDBCheckpointError
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer

RRDB = [
    "model.num_features=8",
    "model.num_blocks=1",
    "model.growth_channels=4",
    "data.hr_size=32",
    "train.batch_size=2",
    "train.steps=2",
    "train.checkpoint_every=2",
    "train.validate_every=2",
]
SRDIFF = [
    "model.rrdb={num_features: 8, num_blocks: 1, growth_channels: 4, scale: 4, feature_stride: 1}",
    (
        "model.denoiser={scale: 4, encoder_channels: 16, cond_channels: 8, base_channels: 16,"
        " channel_multipliers: [1, 2], layers_per_block: 1, attention_levels: [],"
        " mid_attention: false, norm_num_groups: 8}"
    ),
    *TWO_STEP_TRAINING_OVERRIDES,
    "sampling.steps=4",
]


@pytest.fixture(scope="module")
def stage1_run(tmp_path_factory):
    from conftest import write_test_images

    root = tmp_path_factory.mktemp("srdiff")
    images = root / "images"
    write_test_images(images)
    config = ExperimentConfig.load(
        "rrdb_tiny",
        RRDB + [f"data.train_dir={images}", f"data.val_dir={images}", "data.val_limit=2"],
    )
    result = Trainer(config, root / "rrdb").train(progress=False)
    assert result.val_psnr, "stage 1 reports its own validation PSNR"
    return root


def stage2_config(root, *extra):
    return ExperimentConfig.load(
        "srdiff_tiny",
        SRDIFF
        + [
            f"model.encoder_checkpoint={root / 'rrdb'}",
            f"data.train_dir={root / 'images'}",
            f"data.val_dir={root / 'images'}",
            "data.val_limit=2",
            *extra,
        ],
    )


def test_stage1_to_stage2_round_trip_keeps_the_frozen_encoder(stage1_run, tmp_path):
    run = tmp_path / "srdiff"
    result = Trainer(stage2_config(stage1_run), run).train(progress=False)
    assert result.step == 2 and all(map(torch.isfinite, torch.tensor(result.losses)))
    stage1 = YodaPipeline.from_pretrained(stage1_run / "rrdb")
    stage2 = YodaPipeline.from_pretrained(run, weights="model")
    for name, value in stage1.model.state_dict().items():
        assert torch.equal(stage2.model.encoder.state_dict()[name], value), name

    lr = torch.rand(1, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    out = stage2(lr, generator=torch.Generator().manual_seed(0))
    assert out.images.shape == (1, 3, 28, 36)
    assert 0 <= out.images.min() and out.images.max() <= 1
    plain = stage1(lr)
    assert plain.images.shape == (1, 3, 28, 36)


def test_srdiff_lower_bound_one_equals_baseline_and_zero_mask_is_bicubic(stage1_run, tmp_path):
    run = tmp_path / "srdiff"
    Trainer(stage2_config(stage1_run), run).train(progress=False)
    pipe = YodaPipeline.from_pretrained(run)
    lr = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    a = pipe(lr, lower_bound=1.0, sampler="ddpm", generator=torch.Generator().manual_seed(5))
    b = pipe(lr, use_yoda=False, sampler="ddpm", generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.images, b.images)
    zero = pipe(lr, lower_bound=0.0, importance=torch.zeros(2, 1, 32, 32))
    bicubic = (pipe.model.condition(lr)["lr_up"] + 1) / 2
    torch.testing.assert_close(zero.images, bicubic)


def test_encoder_checkpoint_of_another_architecture_is_a_clear_error(stage1_run, tmp_path):
    config = stage2_config(
        stage1_run,
        "model.rrdb={num_features: 8, num_blocks: 3, growth_channels: 4, scale: 4, feature_stride: 2}",
    )
    with pytest.raises(RRDBCheckpointError, match="num_blocks=1.*does not match.*num_blocks=3"):
        Trainer(config, tmp_path / "bad").train(progress=False)
    assert not list_checkpoints(tmp_path / "bad")


def test_an_encoder_trained_with_a_global_residual_must_be_declared_so(stage1_run, tmp_path):
    config = stage2_config(
        stage1_run,
        "model.rrdb={num_features: 8, num_blocks: 1, growth_channels: 4, scale: 4,"
        " feature_stride: 1, global_residual: true}",
    )
    with pytest.raises(
        RRDBCheckpointError, match="trained with global_residual=False.*has global_residual=True"
    ):
        Trainer(config, tmp_path / "bad").train(progress=False)
    assert not list_checkpoints(tmp_path / "bad")


def test_run_saved_by_0_1_loads_with_its_residual_convention_and_refuses_resume(
    stage1_run, tmp_path
):
    import yaml

    from yoda_sr.training.trainer import ConfigMismatchError

    run = tmp_path / "srdiff"
    Trainer(stage2_config(stage1_run), run).train(progress=False)
    # What yoda-sr 0.1.0 wrote: no residual_convention / clip_residual keys.
    for path in [run / "config.yaml", *run.glob("checkpoints/step-*/config.yaml")]:
        data = yaml.safe_load(path.read_text())
        del data["model"]["residual_convention"], data["model"]["clip_residual"]
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.warns(UserWarning, match="legacy_divide"):
        pipe = YodaPipeline.from_pretrained(run)
    assert pipe.config.model.residual_convention == "legacy_divide"
    cond = pipe.model.condition(torch.rand(1, 3, 8, 8))
    x0 = torch.full((1, 3, 32, 32), 0.1)
    expected = ((cond["lr_up"] + 2 * x0 + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(pipe.model.to_image(x0, cond), expected)
    config = stage2_config(stage1_run, "train.steps=4")
    with pytest.warns(UserWarning), pytest.raises(ConfigMismatchError, match="residual_convention"):
        Trainer(config, run, resume=True)
