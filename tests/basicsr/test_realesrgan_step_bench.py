"""bench/realesrgan_step.py: a Real-ESRGAN training iteration with the sharpened GT made on use or every batch."""

from __future__ import annotations

import copy
import importlib.util
import json

import pytest

if importlib.util.find_spec("basicsr") is None:
    pytest.skip("needs the basicsr extra", allow_module_level=True)

import realesrgan_step  # noqa: E402  (bench/ is on the tests' import path)


def test_times_both_candidates_side_by_side(tmp_path):
    out = tmp_path / "step.json"
    assert realesrgan_step.main(["--repeats", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["seconds"]) == {"on use", "every batch"} and all(t > 0 for t in result["seconds"].values())
    assert result["ratio_every_batch_to_on_use"] == pytest.approx(
        result["seconds"]["every batch"] / result["seconds"]["on use"]
    )


def test_the_every_batch_candidate_sharpens_each_batch_and_the_model_none_with_plain_targets(tmp_path):
    import torch
    from basicsr.models import build_model

    options = realesrgan_step.model_options(tmp_path, "plain", "tiny-kadid-synth", 160, 2)
    gt = torch.rand(2, 3, 160, 160)
    batch = {"gt": gt, "lq": torch.nn.functional.interpolate(gt, scale_factor=0.25, mode="bicubic")}
    every_batch = realesrgan_step.EveryBatchUSMModel(copy.deepcopy(options))  # BasicSR pops keys of its options
    for model, expected in ((every_batch, 2), (build_model(options), 0)):
        calls = []
        model.usm_sharpener.register_forward_hook(lambda module, inputs, output: calls.append(output))
        for step in (1, 2):
            model.feed_data({key: value.clone() for key, value in batch.items()})
            model.optimize_parameters(step)
        assert len(calls) == expected
