"""The reproduction study's plan: every run of every preset is a valid experiment config."""

import pytest
from conftest import load_benchmark


@pytest.mark.parametrize("preset", ["cpu", "smoke", "gpu"])
def test_every_planned_run_builds_a_valid_config(preset, tmp_path):
    reproduce = load_benchmark("reproduce")
    p = reproduce.PRESETS[preset]
    runs = reproduce.plan(p, dinov2=tmp_path / "dinov2")
    names = {run.name for run in runs}
    assert {"sr3_s0", "sr3_yoda_s0", "srdiff_s0", "srdiff_yoda_s0"} <= names
    for run in runs:
        for step in run.targets:
            config = reproduce.run_config(run, step, p, tmp_path, tmp_path / "runs")
            assert config.train.steps == step
            assert config.yoda.enabled == ("_yoda" in run.name)
