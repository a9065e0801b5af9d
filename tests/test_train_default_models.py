"""benchmarks/train_default_models.py: what it trains, in which order, with which configs."""

import pytest
from conftest import load_benchmark


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
