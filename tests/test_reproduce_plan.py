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


def test_workers_share_only_the_runs_with_an_evaluation_missing(tmp_path):
    reproduce = load_benchmark("reproduce")
    runs = reproduce.plan(reproduce.PRESETS["cpu"], dinov2=None)
    evals = tmp_path / "evals"
    evals.mkdir()
    main_sr3 = next(r for r in runs if r.name == "sr3_s0" and r.group == "main")
    for spec in main_sr3.evals:
        (evals / f"{reproduce.eval_key('sr3_s0', 800, spec)}.json").write_text("{}")
    pending = reproduce.pending_runs(runs, evals)
    assert main_sr3 not in pending
    assert {r.group for r in pending if r.name == "sr3_s0"} == {"sampler", "ladder"}
    shards = reproduce.shard_names(pending, 3)
    assert set().union(*shards) == {r.name for r in pending}
    assert all(not a & b for a in shards for b in shards if a is not b)
