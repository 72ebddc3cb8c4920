"""bench/flat_regions.py: the fine-band energy a main-job arm adds where the GT is flat."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import flat_regions  # bench/ is on the tests' import path


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(path)


def _workdir(root: Path, grid_amplitude: int) -> Path:
    """A GT whose left half is a flat grey and right half random texture; the control arm returns the GT, the
    RQI arm the GT with a +-amplitude checker grid over its left half."""
    rng = np.random.default_rng(0)
    gt = np.full((64, 64, 3), 128.0)
    gt[:, 32:] = rng.uniform(40, 220, size=(64, 32, 1))
    checker = np.indices((64, 64)).sum(0) % 2 * 2 - 1
    with_grid = gt.copy()
    with_grid[:, :32] += grid_amplitude * checker[:, :32, None]
    _save(gt, root / "heldout_hr" / "sky.png")
    _save(gt, root / "results" / "sr" / "seed0_control" / "sky.png")
    _save(with_grid, root / "results" / "sr" / "seed0_rqi" / "sky.png")
    return root


def test_the_flat_mask_is_where_the_gt_has_no_texture(tmp_path):
    gt = flat_regions.luma(_workdir(tmp_path, 0) / "heldout_hr" / "sky.png")
    mask = flat_regions.flat_mask(gt)
    assert mask.sum().item() > 0 and not mask[..., 32:].any()


def test_a_grid_over_the_flat_half_is_measured_against_the_control(tmp_path):
    """A +-4 grey-level checker is a fine band of RMS about 4 (its 5 x 5 mean is about 0); the control arm adds
    nothing; no grid measures 0."""
    rows = flat_regions.measure_workdir(_workdir(tmp_path / "grid", 4))
    (added,) = flat_regions.added_over_control(rows)
    assert 3.5 < added < 4.5
    assert flat_regions.added_over_control(flat_regions.measure_workdir(_workdir(tmp_path / "none", 0))) == [0.0]


def test_the_table_cells_come_from_the_json(tmp_path):
    rows = flat_regions.measure_workdir(_workdir(tmp_path / "grid", 4))
    path = tmp_path / "flat.json"
    assert flat_regions.main([str(tmp_path / "grid"), "--json", str(path)]) == 0
    cells = flat_regions.markdown_cells(path)
    assert cells == {"grid": f"{flat_regions.added_over_control(rows)[0]:+.2f}"}


def test_the_json_keeps_other_folders_and_refuses_other_settings(tmp_path):
    path = tmp_path / "flat.json"
    assert flat_regions.main([str(_workdir(tmp_path / "grid", 4)), "--json", str(path)]) == 0
    assert flat_regions.main([str(_workdir(tmp_path / "none", 0)), "--json", str(path)]) == 0
    cells = flat_regions.markdown_cells(path)
    assert list(cells) == ["grid", "none"] and cells["none"] == "+0.00"
    assert flat_regions.rqi_arm_difference("grid", "none", "control", path)[0] == pytest.approx(
        flat_regions.added_over_control(flat_regions.measure_workdir(tmp_path / "grid"))[0]
    )
    recorded = json.loads(path.read_text())
    path.write_text(json.dumps({**recorded, "settings": {**recorded["settings"], "flat_share": 0.5}}))
    with pytest.raises(ValueError, match="--json: .* was measured with .*'flat_share': 0.5"):
        flat_regions.main([str(tmp_path / "grid"), "--json", str(path)])
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["flat.json"]  # no temporary file left


def test_a_folder_the_main_job_did_not_finish_names_the_argument(tmp_path):
    with pytest.raises(FileNotFoundError, match="workdirs: .* has no heldout_hr/ and results/sr/"):
        flat_regions.measure_workdir(tmp_path)
