"""examples/finetune_outputs.py: the main job's summary, over seeds and per image."""

from __future__ import annotations

import finetune_outputs  # examples/ is on the tests' import path


def _row(image: str, seed: int, arm: str, haarpsi: float) -> dict:
    scores = {metric: 0.5 for metric in finetune_outputs.METRICS}
    return {"image": image, "seed": seed, "arm": arm, **scores, "haarpsi": haarpsi, "rqi": -0.1}


def _rows() -> list[dict]:
    """Two seeds: the RQI arm raises "a" by 0.003 / 0.004 and lowers "b" by 0.001 in both; "before" has no pair."""
    rows = [_row("a", -1, "before", 0.6), _row("b", -1, "before", 0.6)]
    for seed, gain in ((0, 0.003), (1, 0.004)):
        rows += [_row("a", seed, "control", 0.7), _row("a", seed, "rqi", 0.7 + gain)]
        rows += [_row("b", seed, "control", 0.8), _row("b", seed, "rqi", 0.8 - 0.001)]
    return rows


def test_image_differences_are_per_seed_and_skip_unpaired_arms():
    differences = finetune_outputs.image_differences(_rows())
    assert list(differences) == ["a", "b"]
    assert [round(v, 6) for v in differences["a"]["haarpsi"]] == [0.003, 0.004]
    assert [round(v, 6) for v in differences["b"]["haarpsi"]] == [-0.001, -0.001]
    assert differences["a"]["psnr"] == [0.0, 0.0]


def test_the_summary_shows_an_image_that_got_worse_behind_a_better_mean():
    summary = finetune_outputs.summary_markdown(_rows(), "title")
    assert "| 0 | +0.0000 | +0.0000 | +0.0010 |" in summary  # the mean over images rose in seed 0
    table = summary.split("per image (the range over the seeds):")[1]
    assert "| a | +0.0000 | +0.0000 | +0.0030 to +0.0040 |" in table
    assert "| b | +0.0000 | +0.0000 | -0.0010 |" in table


def test_range_cell_collapses_a_range_that_rounds_to_one_value():
    assert finetune_outputs.range_cell([0.00041, 0.00044], 4) == "+0.0004"
    assert finetune_outputs.range_cell([-0.0012, -0.0005], 4) == "-0.0012 to -0.0005"
