"""bench/gaming.py, the judge-hacking harness: the attack finds gains on the plain loss, stays within its
budget, and the JSON carries the referees for the same images."""

from __future__ import annotations

import pytest

pytest.importorskip("piq", reason="the referees come from piq (test extra)")
pytest.importorskip("skimage", reason="the photographs come from scikit-image")

import gaming  # bench/ is on pytest's pythonpath (setup.cfg), as it is on a bench script's own sys.path


@pytest.fixture(scope="module")
def judge():
    from rqi_loss import create_network

    return create_network("tiny-kadid-synth")


def test_attack_stays_in_budget_and_raises_the_score(judge):
    from rqi_loss import RQILoss

    sr, gt = gaming.targets()["photos"]
    sr, gt = sr[:2], gt[:2]
    loss = RQILoss(judge, seed=0, check_inputs=False)
    eps = 2 / 255
    attacked = gaming.attack(loss, sr, gt, eps, steps=5)
    assert (attacked - sr).abs().max() <= eps + 1e-6 and attacked.min() >= 0 and attacked.max() <= 1
    config = {"crop": "random", "num_crops": 1, "transforms": None}
    before = gaming.expected_score(judge, sr, gt, config, draws=4)
    after = gaming.expected_score(judge, attacked, gt, config, draws=4)
    assert (after > before).all()


@pytest.mark.slow  # 18 s: the attack at two budgets; run by CI with -m slow
def test_run_reports_gain_and_referees_per_eps(judge):
    results = gaming.run(
        judge, defended=gaming.as_transforms(True), eps_list=[1 / 255], steps=2, draws=2, ordering=False
    )
    assert set(results["configs"]) == {"plain", "defended"}
    for per_target in results["configs"].values():
        for target in ("photos", "kadid_pairs"):
            (row,) = per_target[target]
            assert row["eps_255"] == 1.0 and set(row["referees_attacked"]) == set(gaming.REFEREES)
            assert row["gain"] == pytest.approx(row["attacked_f"] - row["clean_f"], abs=1e-6)
    assert set(results["_examples"]) == set()  # examples are kept at 4/255 only
