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


def test_resshift_pairs_differ_only_in_yoda_and_sample_their_whole_chain(tmp_path):
    reproduce = load_benchmark("reproduce")
    p = reproduce.PRESETS["cpu"]
    runs = {r.name: r for r in reproduce.plan(p, dinov2=None) if r.group == "resshift"}
    assert len(runs) == 2 * len(p.seeds) * len(p.resshift_steps)
    for seed in p.seeds:
        for num_t in p.resshift_steps:
            plain, yoda = (
                reproduce.run_config(
                    runs[f"{name}_T{num_t}_s{seed}"], p.steps, p, tmp_path, tmp_path
                )
                for name in ("resshift", "resshift_yoda")
            )
            assert type(plain.model).__name__ == "ResShiftConfig"
            assert plain.diffusion.process == "resshift"
            assert plain.diffusion.num_train_timesteps == num_t == plain.sampling.steps
            # T = 4 is the TPAMI chain: sqrt(eta_1) = 0.1 (min noise level 0.2), T = 15: 0.04.
            assert plain.diffusion.min_noise_level == (0.2 if num_t == 4 else 0.04)
            assert not plain.yoda.enabled and yoda.yoda.enabled
            assert plain.train == yoda.train and plain.diffusion == yoda.diffusion
            assert runs[f"resshift_T{num_t}_s{seed}"].evals == [{"sampler": "ddpm", "steps": num_t}]


def test_the_ladder_continues_the_t15_resshift_pair_with_its_own_chain(tmp_path):
    reproduce = load_benchmark("reproduce")
    p = reproduce.PRESETS["cpu"]
    runs = reproduce.plan(p, dinov2=None)
    ladder = {r.name: r for r in runs if r.group == "ladder"}
    for name in ("resshift_T15_s0", "resshift_yoda_T15_s0"):
        main = next(r for r in runs if r.name == name and r.group == "resshift")
        assert ladder[name].overrides == main.overrides  # the same run, trained further
        assert ladder[name].evals == [{"sampler": "ddpm", "steps": 15}]
        assert ladder[name].targets == (800, 1600, 3000, 10000)
        config = reproduce.run_config(ladder[name], 3000, p, tmp_path, tmp_path)
        assert config.diffusion.num_train_timesteps == 15 and config.train.steps == 3000
    assert "resshift_T4_s0" not in ladder
