"""benchmarks/train_default_models.py: what it trains, in which order, with which configs."""

import json

import pytest
import torch
import yaml
from conftest import load_benchmark
from safetensors.torch import load_file

from yoda_sr.checkpoints import save_checkpoint
from yoda_sr.config import ExperimentConfig
from yoda_sr.imaging import save_image
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline


@pytest.mark.parametrize("jobs", [1, 2])
def test_rrdb_trains_before_srdiff_and_every_run_builds_a_valid_config(jobs, tmp_path):
    script = load_benchmark("train_default_models")
    args = script.parse_args(
        ["--train", "--jobs", str(jobs), "--batch", "16", "--hr-size", "64", "--out", str(tmp_path)]
    )
    chains = script.chains(jobs)
    assert len(chains) == jobs
    assert sorted(m.name for chain in chains for m in chain) == [
        "rrdb",
        "sr3-yoda-x4",
        "srdiff-yoda-x4",
    ]
    srdiff_chain = next(chain for chain in chains if script.SRDIFF in chain)
    assert srdiff_chain.index(script.RRDB) < srdiff_chain.index(script.SRDIFF)
    for model in (script.RRDB, *script.BUNDLED):
        config = script.run_config(model, 300, args, tmp_path / "data")
        assert (config.train.steps, config.train.batch_size, config.data.hr_size) == (300, 16, 64)
        assert config.data.train_dir == str(tmp_path / "data" / "train_tiles")
    srdiff = script.run_config(script.SRDIFF, 300, args, tmp_path / "data")
    assert srdiff.model.encoder_checkpoint == str(tmp_path / "runs" / "rrdb")
    assert srdiff.yoda.enabled and script.run_config(script.SR3, 1, args, tmp_path).yoda.enabled


def test_no_step_named_means_train_export_and_evaluate():
    script = load_benchmark("train_default_models")
    args = script.parse_args([])
    assert (args.train, args.export, args.evaluate) == (True, True, True)
    args = script.parse_args(["--evaluate"])
    assert (args.train, args.export, args.evaluate) == (False, False, True)
    with pytest.raises(SystemExit):  # a study's runs are exported, not trained
        script.parse_args(["--from-study", "study", "--study-step", "8"])
    with pytest.raises(SystemExit):
        script.parse_args(["--export", "--from-study", "study"])


def fake_study(root, steps=(4, 8)):
    """A study folder as benchmarks/reproduce.py leaves it: untrained tiny networks saved as
    checkpoints (RRDB at 4, the YODA runs at ``steps``), one train tile, a speeds.json."""
    save_image(torch.rand(3, 16, 16), root / "data" / "train_tiles" / "a_00.png")
    common = [f"data.train_dir={root / 'data' / 'train_tiles'}", "data.hr_size=32"]
    common += ["train.batch_size=2", "train.seed=0", "yoda.enabled=true"]
    runs = {"rrdb": ("rrdb_tiny", (4,)), "srdiff_yoda_s0": ("srdiff_tiny", steps)}
    runs["sr3_yoda_s0"] = ("sr3_tiny", steps)
    runs["resshift_yoda_T15_s1"] = ("resshift_tiny", steps)
    for name, (backbone, run_steps) in runs.items():
        extra = [f"model.encoder_checkpoint={root / 'runs' / 'rrdb'}"] if "srdiff" in name else []
        config = ExperimentConfig.load(backbone, common + extra)
        text = yaml.safe_dump(config.to_dict(), sort_keys=False)
        for step in run_steps:
            torch.manual_seed(step)
            model = build_model(config.model)
            save_checkpoint(root / "runs" / name, step, model, model, text, {"step": step}, 10)
    speeds = {
        "rrdb": 2.0,  # an older, plain entry: no machine
        "srdiff_yoda_s0@4": {"steps_per_second": 2.0, "machine": "M"},
        "srdiff_yoda_s0@8": {"steps_per_second": 4.0, "machine": "M"},
        "sr3_yoda_s0@4": 1.0,
    }
    (root / "speeds.json").write_text(json.dumps(speeds))
    return root


def test_export_from_a_study_bundles_its_checkpoints_at_the_step_with_true_records(tmp_path):
    script = load_benchmark("train_default_models")
    study = fake_study(tmp_path / "study")
    out, bundle = tmp_path / "out", tmp_path / "bundle"
    argv = ["--export", "--from-study", str(study), "--study-records", str(study)]
    argv += ["--out", str(out), "--bundle-dir", str(bundle)]
    with pytest.raises(
        FileNotFoundError, match=r"srdiff_yoda_s0: no checkpoint at step 6; steps available: 4, 8"
    ):
        script.export(script.parse_args([*argv, "--study-step", "6"]))
    script.export(script.parse_args([*argv, "--study-step", "4"]))
    script.export(script.parse_args([*argv, "--study-step", "8"]))  # overwrites the step 4 one

    srdiff = YodaPipeline.from_pretrained(bundle / "srdiff-yoda-x4")
    assert srdiff.config.model.encoder_checkpoint == ""  # self-contained
    ema = load_file(
        study / "runs" / "srdiff_yoda_s0" / "checkpoints" / "step-000008" / "ema.safetensors"
    )
    state = srdiff.model.state_dict()
    assert all(torch.allclose(state[k], v, atol=1e-2, rtol=1e-2) for k, v in ema.items())

    def record(name):
        return json.loads((out / "export" / f"{name}-fp32" / "training.json").read_text())

    srdiff_record, sr3_record, rrdb_record = (
        record(n) for n in ("srdiff-yoda-x4", "sr3-yoda-x4", "rrdb")
    )
    assert srdiff_record["steps"] == sr3_record["steps"] == 8 and rrdb_record["steps"] == 4
    assert srdiff_record["options"] == {"batch": 2, "hr_size": 32, "seed": 0}
    assert srdiff_record["config"] == "srdiff_tiny" and srdiff_record["study"]["preset"] == "smoke"
    assert (
        srdiff_record["seconds"] == pytest.approx(4 / 2 + 4 / 4) and srdiff_record["device"] == "M"
    )
    assert sr3_record["seconds"] is None  # its 4 -> 8 segment has no recorded speed
    assert sr3_record["device"] == "not recorded"
    assert rrdb_record["seconds"] == pytest.approx(2.0) and rrdb_record["device"] == "not recorded"
    command = srdiff_record["command"].splitlines()
    assert command[0].endswith("--runs srdiff_yoda_s0,sr3_yoda_s0 --groups main")
    assert f"--from-study {study} --study-step 8" in command[-2] and command[-1].endswith(
        "--evaluate"
    )

    results = {
        key: {"psnr_y": 20.0, "ssim_y": 0.5, "psnr_rgb": 19.0, "ssim_rgb": 0.4, "delta_e76": 1.0}
        | {"seconds_per_image": 1.0, "fp16_vs_fp32_max_abs": 1e-3}
        for key in ("bicubic", "rrdb", "srdiff-yoda-x4", "srdiff-yoda-x4-fp32")
    }
    protocol = {"crops": ["a.png"], "crop_px": 64, "sample_steps": 2, "device": "CPU"}
    args = script.parse_args(["--evaluate", "--out", str(out), "--bundle-dir", str(bundle)])
    card = script.model_card(script.SRDIFF, results, protocol, args)
    assert "--train" not in card and srdiff_record["command"] in card
    assert "8 steps at batch 2 of 32 px" in card and "about 3.0 s of training" in card
    assert "run `srdiff_yoda_s0` of the reproduction study" in card
    assert "4 steps at batch 2 of 32 px, about 2.0 s of training" in card
    assert "steps/s) on a machine not recorded (run `rrdb` of the study)" in card
    assert "1 tiles of 16 px" in card and "centre crops of 64 px" in card


def test_export_gives_each_bundled_model_its_sampling_settings_and_resshift_its_own_card(
    tmp_path,
):
    script = load_benchmark("train_default_models")
    study = fake_study(tmp_path / "study")
    out, bundle = tmp_path / "out", tmp_path / "bundle"
    argv = ["--export", "--from-study", str(study), "--study-records", str(study)]
    script.export(
        script.parse_args(
            [*argv, "--out", str(out), "--bundle-dir", str(bundle)] + ["--study-step", "8"]
        )
    )
    trained = ExperimentConfig.load_saved(
        study / "runs" / "resshift_yoda_T15_s1" / "checkpoints" / "step-000008" / "config.yaml"
    )
    assert trained.yoda.lower_bound == 0.3  # what it was trained with
    for name, lower_bound in (
        ("srdiff-yoda-x4", 0.0),
        ("sr3-yoda-x4", 0.3),
        ("resshift-yoda-x4", 0.0),
    ):
        config = YodaPipeline.from_pretrained(bundle / name).config
        assert config.attention.normalization == "absolute"
        assert config.attention.detail_floor == pytest.approx(1 / 255)
        assert config.sampling.color_fix == "wavelet"
        assert config.yoda.lower_bound == lower_bound
    resshift = YodaPipeline.from_pretrained(bundle / "resshift-yoda-x4")
    assert resshift.config.diffusion.process == "resshift"
    record = json.loads((out / "export" / "resshift-yoda-x4-fp32" / "training.json").read_text())
    assert record["config"] == "resshift_tiny" and record["study"]["run"] == "resshift_yoda_T15_s1"
    command = record["command"].splitlines()
    assert command[0].endswith(f"resshift_seeds.py --seeds 1 --steps 8 --study {study}")
    assert command[-1].endswith("--evaluate --models resshift-yoda-x4")

    results = {
        key: {"psnr_y": 20.0, "ssim_y": 0.5, "psnr_rgb": 19.0, "ssim_rgb": 0.4, "delta_e76": 1.0}
        | {"seconds_per_image": 1.0, "fp16_vs_fp32_max_abs": 1e-3}
        for key in ("bicubic", "resshift-yoda-x4", "resshift-yoda-x4-fp32")
    }
    protocol = {"crops": ["a.png"], "crop_px": 64, "sample_steps": 2, "device": "CPU"}
    args = script.parse_args(
        ["--evaluate", "--out", str(out), "--bundle-dir", str(bundle)]
        + ["--models", "resshift-yoda-x4"]
    )
    card = script.model_card(script.RESSHIFT, results, protocol, args)
    steps = resshift.config.sampling.steps
    assert f"ResShift's {steps}-step chain, lower bound 0.0" in card and "DDIM" not in card
    assert "RRDB" not in card


def test_resshift_is_exported_only_from_a_study():
    script = load_benchmark("train_default_models")
    with pytest.raises(SystemExit):
        script.parse_args(["--export", "--models", "resshift-yoda-x4"])
    with pytest.raises(SystemExit):
        script.parse_args(["--evaluate", "--models", "esrgan"])
    assert script.parse_args(["--evaluate", "--models", "resshift-yoda-x4"]).models == (
        "resshift-yoda-x4"
    )


def test_study_time_sums_the_segments_up_to_the_step():
    script = load_benchmark("train_default_models")
    speeds = {
        "run@800": 1.0,
        "run@3000": {"steps_per_second": 2.0, "machine": "GPU"},
        "run_other@800": 100.0,
    }
    assert script.study_time(speeds, "run", 800) == (800.0, "not recorded")
    seconds, machine = script.study_time(speeds, "run", 1000)
    assert (
        seconds == pytest.approx(900.0)
        and machine == "not recorded (steps 0-800); GPU (steps 800-1000)"
    )
    assert script.study_time(speeds, "run", 4000)[0] is None
    assert script.study_time({}, "run", 10) == (None, "not recorded")


def test_the_card_names_a_set_behind_bicubic_only_when_it_prints_a_loss():
    script = load_benchmark("train_default_models")

    def crop(set_name, ours, bicubic):
        scores = lambda psnr, ssim: {"psnr_y": psnr, "ssim_y": ssim}  # noqa: E731
        return {
            "set": set_name,
            "bicubic": scores(*bicubic),
            "absolute": {"fixes": {"wavelet": scores(*ours)}},
        }

    summary = {
        "crops": [
            crop("flat", (57.7601, 0.99718), (57.7203, 0.99721)),  # SSIM-Y prints 0.9972 both
            crop("dark", (35.47, 0.9188), (35.48, 0.9137)),
        ]
    }
    assert script.behind_bicubic(summary) == [("dark", ["PSNR-Y 35.47 vs 35.48"])]


def test_a_card_says_where_the_model_is_behind_bicubic_on_the_held_out_photos(
    tmp_path, monkeypatch
):
    script = load_benchmark("train_default_models")
    row = lambda val, dark: {"val": {"psnr_y": val}, "dark": {"psnr_y": dark}}  # noqa: E731
    scores = {"bicubic": row(39.32, 44.81), "srdiff-yoda-x4": row(39.59, 44.81)}
    scores["seed " + script.STUDY_RUNS["resshift-yoda-x4"].rsplit("_s", 1)[1]] = row(39.15, 44.9)
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    record = tmp_path / "benchmarks" / "results" / "resshift_seeds_heldout.json"
    record.write_text(json.dumps({"scores": scores}))
    monkeypatch.setattr(script, "HERE", tmp_path / "benchmarks")
    assert "not behind bicubic" in script.heldout_sentence(script.SRDIFF)  # 44.81 = 44.81
    assert "behind bicubic on val (PSNR-Y 39.15 vs 39.32) (" in script.heldout_sentence(
        script.RESSHIFT
    )
    assert script.heldout_sentence(script.SR3) == ""
