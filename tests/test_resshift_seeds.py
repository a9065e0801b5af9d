"""The rule ``benchmarks/resshift_seeds.py`` picks the bundled ResShift seed and the default by."""

from __future__ import annotations

from conftest import load_benchmark

SETS = ("val", "flat", "dark", "noisy", "large")


def row(psnr_y: dict[str, float], ssim_val: float = 0.8) -> dict[str, dict[str, float]]:
    return {s: {"psnr_y": psnr_y[s], "ssim_y": ssim_val, "psnr_rgb": 0.0} for s in SETS}


def flat(value: float, **changes: float) -> dict[str, float]:
    return {s: changes.get(s, value) for s in SETS}


def test_the_seed_with_the_largest_worst_margin_over_bicubic_is_chosen_not_the_best_on_val():
    rs = load_benchmark("resshift_seeds")
    table = {
        "bicubic": row(flat(30.0)),
        "seed 0": row(flat(31.0, val=33.0, dark=29.5)),  # best on val, behind bicubic on dark
        "seed 1": row(flat(30.5, val=31.0)),
        "seed 2": row(flat(30.5, val=31.5)),  # same worst margin as seed 1, better val: the tie
    }
    lines = rs.choose(table, ["seed 0", "seed 1", "seed 2"], None)
    assert lines == ["chosen by the rule: seed 2 (worst PSNR-Y margin over bicubic +0.50 dB)"]


def test_the_default_switches_only_when_no_worse_on_val_and_no_less_robust():
    rs = load_benchmark("resshift_seeds")
    base = {"bicubic": row(flat(30.0)), "seed 0": row(flat(30.5, val=31.0))}
    cases = {
        "switch": row(flat(30.5, val=31.0)),  # equal everywhere
        "keep": row(flat(30.6, val=31.1), ssim_val=0.81),  # better SSIM-Y on val
    }
    for verdict, default in cases.items():
        lines = rs.choose({**base, "srdiff-yoda-x4": default}, ["seed 0"], "srdiff-yoda-x4")
        assert lines[-1].endswith(f"-> {verdict} the default")
    robust = row(flat(30.8, val=30.9))  # worse on val but never behind by less: keep
    lines = rs.choose({**base, "srdiff-yoda-x4": robust}, ["seed 0"], "srdiff-yoda-x4")
    assert lines[-1].endswith("-> keep the default")
