"""The study report pairs the runs of a comparison by their shared seed."""

from conftest import load_benchmark

report = load_benchmark("report")


def evaluation(psnr_y: float) -> dict:
    return {"rows": [{"set": "val", "psnr_y": psnr_y}, {"set": "faces", "psnr_y": 0.0}]}


def test_by_seed_keys_evaluations_by_the_seed_in_their_name() -> None:
    evals = {
        "m_s0__x": evaluation(1.0),
        "m_s2__x": evaluation(2.0),
        "m_s1__y": evaluation(3.0),
        "m_sa__x": evaluation(4.0),
    }
    found = report.by_seed(evals, "m_s{seed}__x")
    assert sorted(found) == [0, 2]
    assert found[2]["rows"][0]["psnr_y"] == 2.0


def test_paired_differences_use_only_shared_seeds_and_count_wins() -> None:
    base = {0: evaluation(20.0), 1: evaluation(21.0), 2: evaluation(22.0), 3: evaluation(50.0)}
    other = {0: evaluation(20.5), 1: evaluation(20.0), 2: evaluation(23.5)}
    # Differences by hand: +0.5, -1.0, +1.5 -> mean +0.333, sample sd 1.258; seed 3 unpaired.
    line = report.paired(base, other, "val", "psnr_y", higher_better=True)
    assert line == "paired by seed +0.333 ± 1.258, better in 2/3 seeds"
    lower = report.paired(base, other, "val", "psnr_y", higher_better=False)
    assert lower.endswith("better in 1/3 seeds")


def test_paired_needs_two_shared_seeds() -> None:
    line = report.paired(
        {0: evaluation(1.0)}, {0: evaluation(2.0), 1: evaluation(3.0)}, "val", "psnr_y", True
    )
    assert line == "paired: fewer than 2 shared seeds"


def test_gap_table_subtracts_the_baseline_at_each_step_and_marks_missing_points() -> None:
    base = {800: evaluation(16.0), 3000: evaluation(20.0)}
    yoda = {800: evaluation(22.5), 3000: evaluation(26.25), 10000: evaluation(27.0)}
    lines = report.gap_table({"Y − B": (base, yoda)}, "val", (("psnr_y", "PSNR-Y"),)).splitlines()
    assert lines[0] == "| steps | Y − B: PSNR-Y |"
    # By hand: 22.5 - 16.0, 26.25 - 20.0; the baseline has no 10000-step point.
    assert lines[2:] == ["| 800 | +6.500 |", "| 3000 | +6.250 |", "| 10000 | – |"]


def test_coverage_counts_each_planned_evaluation_not_each_checkpoint() -> None:
    from types import SimpleNamespace

    run = SimpleNamespace(
        name="sr3_s0",
        targets=(800,),
        evals=[{"sampler": "ddim", "steps": 50}, {"sampler": "ddpm", "steps": None}],
    )
    # The DDIM evaluation of the 800-step checkpoint exists; its DDPM one does not.
    planned, missing = report.coverage([run], {"sr3_s0__step800__ddim__50": {}})
    assert planned == ["sr3_s0__step800__ddim__50", "sr3_s0__step800__ddpm__full"]
    assert missing == ["sr3_s0__step800__ddpm__full"]
