"""rqi-score on generated folders: pairing by name, ranking, CSV/JSON output, image formats, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rqi_loss._images import ImageReadError, read_image
from rqi_loss.metric.cli import main

SIZE = 160  # one scale of 20 crops for the 128-pixel tiny network: fast


def _scenes(count: int = 3) -> list[np.ndarray]:
    """(H, W, 3) uint8 RGB scenes cut from a photograph."""
    from skimage import data

    photo = data.astronaut()
    return [photo[60 * i : 60 * i + SIZE, 100 + 40 * i : 100 + 40 * i + SIZE].copy() for i in range(count)]


def _blurred(image: np.ndarray) -> np.ndarray:
    from skimage.filters import gaussian

    return (gaussian(image / 255.0, 3, channel_axis=-1) * 255).round().astype(np.uint8)


def _write(path: Path, rgb: np.ndarray) -> Path:
    """Write RGB (or grey) with OpenCV, whose channel order is BGR."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    array = rgb[..., ::-1] if rgb.ndim == 3 and rgb.shape[2] == 3 else rgb
    assert cv2.imwrite(str(path), np.ascontiguousarray(array))
    return path


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """gt/ (3 PNGs), same/ (the GT as 16-bit PNGs), blurred/ (strongly blurred)."""
    for i, scene in enumerate(_scenes()):
        _write(tmp_path / "gt" / f"img{i}.png", scene)
        _write(tmp_path / "same" / f"img{i}.png", scene.astype(np.uint16) * 257)
        _write(tmp_path / "blurred" / f"img{i}.png", _blurred(scene))
    return tmp_path


def _run(*args: str | Path) -> int:
    return main([str(a) for a in args] + ["--model", "tiny-kadid-synth", "--device", "cpu", "--quiet"])


def test_ranking_of_two_methods_with_csv(folders, capsys):
    out = folders / "scores.csv"
    assert _run(folders / "blurred", folders / "same", folders / "gt", "--out", out) == 0
    table = capsys.readouterr().out
    lines = [line.split() for line in table.splitlines()[1:3]]
    assert [line[1] for line in lines] == ["same", "blurred"], table  # the GT itself ranks first, 3 wins
    assert lines[0][2:] == ["3", "0.0000", "0.0000", "3"] and lines[1][5] == "0"
    rows = list(csv.DictReader(out.open()))
    per_image = [r for r in rows if r["image"] != "MEAN"]
    assert len(per_image) == 6 and {r["status"] for r in per_image} == {"ok"}
    assert all(float(r["score"]) < 0 for r in per_image if r["method"] == "blurred")
    means = {r["method"]: r for r in rows if r["image"] == "MEAN"}
    assert means["same"]["status"] == "complete" and float(means["same"]["score"]) == 0.0


def test_json_output_and_unmatched_files_are_listed(folders, caplog):
    _write(folders / "blurred" / "extra.png", _scenes(1)[0])
    (folders / "blurred" / "img2.png").unlink()
    out = folders / "scores.json"
    assert _run(folders / "blurred", folders / "gt", "--out", out) == 0
    report = json.loads(out.read_text())
    assert report["complete"] is True and report["model"] == "tiny-kadid-synth"
    assert sorted(report["scores"]["blurred"]) == ["img0", "img1"]
    assert sorted(Path(p).name for p in report["unmatched"]["blurred"]) == ["extra.png", "img2.png"]
    assert "extra.png has no GT image" in caplog.text and "img2.png" in caplog.text


def test_size_mismatch_and_unreadable_file_give_exit_1_and_partial_output(folders, caplog):
    _write(folders / "blurred" / "img0.png", _blurred(_scenes(1)[0])[:150])
    (folders / "blurred" / "img1.png").write_bytes(b"not an image")
    out = folders / "partial.csv"
    assert _run(folders / "blurred", folders / "gt", "--out", out) == 1
    rows = list(csv.DictReader(out.open()))
    status = {r["image"]: r["status"] for r in rows}
    assert status["img2"] == "ok" and status["MEAN"] == "incomplete"
    assert "size mismatch" in status["img0"] and "--resize-sr" in status["img0"]
    assert "not a readable image" in status["img1"]
    assert "size mismatch" in caplog.text


def test_resize_sr_scores_a_smaller_sr(folders):
    for i, scene in enumerate(_scenes()):
        _write(folders / "small" / f"img{i}.png", scene[::2, ::2])
    assert _run(folders / "small", folders / "gt", "--resize-sr") == 0


def test_strip_suffix_pairs_renamed_outputs(folders):
    for i, scene in enumerate(_scenes()):
        _write(folders / "method_x4" / f"img{i}_x4.png", _blurred(scene))
    assert _run(folders / "method_x4", folders / "gt") == 2  # nothing pairs by name
    assert _run(folders / "method_x4", folders / "gt", "--strip-suffix", "_x4") == 0


def test_single_files_pair_whatever_their_names(folders, capsys):
    assert _run(folders / "blurred" / "img0.png", folders / "gt" / "img1.png") == 0
    assert "img0" in capsys.readouterr().out


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda f: [f / "missing", f / "gt"], "does not exist"),
        (lambda f: [f / "empty", f / "gt"], "holds no images"),
        (lambda f: [f / "gt"], "at least one SR path"),
        (lambda f: [f / "blurred", f / "gt", "--out", f / "scores.txt"], "--out must end in .csv or .json"),
        (lambda f: [f / "blurred", f / "gt", "--model", "tiny-kadid-synht"], "unknown model"),
    ],
)
def test_usage_errors_exit_2_with_a_message(folders, caplog, make_args, message):
    (folders / "empty").mkdir()
    argv = [str(a) for a in make_args(folders)]
    extra = [] if "--model" in argv else ["--model", "tiny-kadid-synth"]
    assert main(argv + extra + ["--quiet"]) == 2
    assert message in caplog.text
    if message == "unknown model":  # the command's own options, no Python keyword, no quotes around the message
        assert "--checkpoint FILE" in caplog.text and "checkpoint_path" not in caplog.text
        assert '"unknown' not in caplog.text and "'unknown" not in caplog.text


def test_console_entry_point_exit_code(folders):
    """The installed command, as a user runs it: the process exit status is the documented one."""
    script = Path(sys.executable).with_name("rqi-score")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "rqi_loss.metric.cli"]
    args = [str(folders / "blurred"), str(folders / "nowhere"), "--model", "tiny-kadid-synth", "--quiet"]
    done = subprocess.run(command + args, capture_output=True, text=True)
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_warnings_are_one_log_line_above_the_progress_bar(tmp_path):
    """A warning while the bar runs (images below the network's input size) is one WARNING line of its own: no
    source line of the package, nothing printed into the bar's line."""
    for i, scene in enumerate(_scenes(2)):
        _write(tmp_path / "gt" / f"img{i}.png", scene[:64, :64])
        _write(tmp_path / "blurred" / f"img{i}.png", _blurred(scene)[:64, :64])
    command = [sys.executable, "-m", "rqi_loss.metric.cli", str(tmp_path / "blurred"), str(tmp_path / "gt")]
    done = subprocess.run(command + ["--model", "tiny-kadid-synth", "--device", "cpu"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.replace("\r", "\n").splitlines()
    warning = [line for line in lines if "inputs with a side below" in line]
    assert warning and all(line.startswith("WARNING UserWarning: inputs with a side below") for line in warning)
    assert not [line for line in lines if "warn_at_caller(" in line or ".py:" in line]


# Image reading ------------------------------------------------------------------------------------------------


def test_rgb_order_and_formats(tmp_path):
    from PIL import Image

    rgb = np.zeros((8, 10, 3), np.uint8)
    rgb[..., 0] = 250  # red
    rgb[2:5, 3:7, 2] = 120
    for suffix in (".png", ".bmp", ".tif", ".webp", ".jpg"):
        path = tmp_path / f"red{suffix}"
        options = {".jpg": {"quality": 100, "subsampling": 0}, ".webp": {"lossless": True}}.get(suffix, {})
        Image.fromarray(rgb).save(path, **options)
        image = read_image(path)
        assert image.shape == (3, 8, 10) and image.dtype == torch.float32
        tolerance = 0.08 if suffix == ".jpg" else 0
        expected = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
        assert (image - expected).abs().max() <= tolerance + 1e-6, suffix


def test_16_bit_grey_and_alpha(tmp_path):
    from PIL import Image

    deep = (np.arange(6 * 7 * 3).reshape(6, 7, 3) * 311 % 65536).astype(np.uint16)
    image = read_image(_write(tmp_path / "deep.png", deep))
    torch.testing.assert_close(image, torch.from_numpy(deep.astype(np.float32) / 65535).permute(2, 0, 1))
    grey = (np.arange(42).reshape(6, 7) * 6).astype(np.uint8)
    image = read_image(_write(tmp_path / "grey.png", grey))
    assert image.shape == (3, 6, 7) and torch.equal(image[0], image[2])
    torch.testing.assert_close(image[1], torch.from_numpy(grey / 255.0).float())
    rgba = np.dstack([np.full((6, 7, 3), (10, 20, 30), np.uint8), np.full((6, 7), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    image = read_image(tmp_path / "alpha.png")
    assert image.shape == (3, 6, 7)
    torch.testing.assert_close(image[:, 0, 0], torch.tensor([10, 20, 30]) / 255.0)


def test_unreadable_and_missing_files_name_the_path(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image(tmp_path / "broken.png")
    with pytest.raises(FileNotFoundError, match="absent.png"):
        read_image(tmp_path / "absent.png")


def test_rank_methods_example(tmp_path, capsys):
    """examples/rank_methods.py, as docs/evaluation.md runs it: three methods ranked, scores written."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / "rank_methods.py"
    spec = importlib.util.spec_from_file_location("rank_methods", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    readme = (Path(__file__).resolve().parents[2] / "docs" / "evaluation.md").read_text()
    printed = readme.split("$ .venv/bin/python examples/rank_methods.py\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[1] for line in table[1:4]] == [line.split()[1] for line in printed[1:4]]  # the page's order
    assert [line.split()[1] for line in printed[1:4]] == ["jpeg", "noise", "blur"]
    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert len([r for r in rows if r["image"] != "MEAN"]) == 15


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (a decompression bomb's shape) with no pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


def test_empty_truncated_non_image_and_oversized_files_are_error_rows(folders, caplog):
    """Bad files never stop a run: each is an error row (exit 1), the others are scored and written."""
    (folders / "blurred" / "img0.png").write_bytes(b"")
    data = (folders / "blurred" / "img1.png").read_bytes()
    (folders / "blurred" / "img1.png").write_bytes(data[: len(data) // 3])
    _png_header_only(folders / "blurred" / "img2.png", 20_000, 20_000)
    (folders / "blurred" / "img3.png").write_text("plain text, not an image")
    _write(folders / "gt" / "img3.png", _scenes(1)[0])
    out = folders / "bad.json"
    assert _run(folders / "blurred", folders / "gt", "--out", out) == 1
    report = json.loads(out.read_text())
    assert report["complete"] is False
    errors = {e["image"]: e["message"] for e in report["errors"]}
    assert "the file is empty" in errors["img0"]
    assert "not a readable image" in errors["img1"]
    assert "400,000,000 pixels, above the limit of 89,478,485" in errors["img2"] and "--max-pixels" in errors["img2"]
    assert "not a readable image" in errors["img3"]


def test_max_pixels_option(folders):
    out = folders / "limited.json"
    assert _run(folders / "blurred", folders / "gt", "--out", out, "--max-pixels", "10000") == 1
    errors = json.loads(out.read_text())["errors"]
    assert len(errors) == 3 and all("25,600 pixels, above the limit of 10,000" in e["message"] for e in errors)
    assert _run(folders / "blurred", folders / "gt", "--max-pixels", "0") == 2


def test_interrupted_run_exits_1_and_writes_what_it_has(folders, monkeypatch):
    from rqi_loss.metric.rqi_metric import RQIMetric

    real_forward, calls = RQIMetric.forward, []

    def interrupted(self, sr, gt, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_forward(self, sr, gt, **kwargs)

    monkeypatch.setattr(RQIMetric, "forward", interrupted)
    out = folders / "interrupted.csv"
    assert _run(folders / "blurred", folders / "gt", "--out", out) == 1
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows if r["image"] != "MEAN"] == ["ok"]
    assert {r["status"] for r in rows if r["image"] == "MEAN"} == {"incomplete"}
