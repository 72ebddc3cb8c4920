"""rqi-score --also: the paper-style table (every method under RQI and classical metrics, with per-metric
rank and direction), its CSV/JSON, the --plot PNG, and PSNR/SSIM on Y with a crop border equal to BasicSR's."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from test_score_cli import _run, folders  # noqa: F401  (the fixture)

from rqi_loss.metric.classical import CLASSICAL_METRICS, crop_border, luma, parse_metric_names


def test_psnr_and_ssim_on_y_equal_basicsr():
    from rqi_loss.basicsr.compat import install_functional_tensor_alias

    install_functional_tensor_alias()  # basicsr imports a torchvision module that current torchvision lacks
    metrics = pytest.importorskip("basicsr.metrics")
    calculate_psnr, calculate_ssim = metrics.calculate_psnr, metrics.calculate_ssim

    g = torch.Generator().manual_seed(0)
    gt = (torch.rand(3, 64, 80, generator=g) * 255).round() / 255
    sr = ((gt + 0.05 * torch.randn(3, 64, 80, generator=g)).clamp(0, 1) * 255).round() / 255
    bgr = lambda t: t.permute(1, 2, 0).numpy()[..., ::-1].astype(np.float64) * 255  # noqa: E731
    cropped = crop_border(sr, 4), crop_border(gt, 4)
    expected_psnr = calculate_psnr(bgr(sr), bgr(gt), crop_border=4, test_y_channel=True)
    expected_ssim = calculate_ssim(bgr(sr), bgr(gt), crop_border=4, test_y_channel=True)
    assert CLASSICAL_METRICS["psnr"].compute(*cropped) == pytest.approx(expected_psnr, abs=1e-6)
    assert CLASSICAL_METRICS["ssim"].compute(*cropped) == pytest.approx(expected_ssim, abs=1e-6)
    assert CLASSICAL_METRICS["psnr"].compute(gt, gt) == 100.0  # identical: capped, not infinite
    torch.testing.assert_close(luma(torch.ones(3, 1, 1)), torch.full((1, 1, 1), 235 / 255))


def test_metric_names_are_checked():
    assert [m.name for m in parse_metric_names("PSNR, ssim,psnr")] == ["psnr", "ssim"]
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['lpips'\]; choose from psnr, ssim"):
        parse_metric_names("psnr,lpips")


def test_table_csv_json_and_plot_with_classical_metrics(folders, capsys):  # noqa: F811
    out, plot = folders / "scores.csv", folders / "scores.png"
    code = _run(
        folders / "same", folders / "blurred", folders / "gt", "--also", "psnr,ssim,gmsd", "--out", out, "--plot", plot
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "psnr ↑ (rank)" in table and "gmsd ↓ (rank)" in table and "crop border 4 px" in table
    same_row = next(line for line in table.splitlines() if " same " in line)
    assert "100.0000 (1)" in same_row and "1.0000 (1)" in same_row and "0.0000 (1)" in same_row  # GT itself
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["method", "image", "score", "psnr", "ssim", "gmsd", "status"]
    blurred = [r for r in rows if r["method"] == "blurred" and r["image"] != "MEAN"]
    assert len(blurred) == 3 and all(20 < float(r["psnr"]) < 40 and float(r["gmsd"]) > 0.01 for r in blurred)
    mean = next(r for r in rows if r["method"] == "blurred" and r["image"] == "MEAN")
    assert float(mean["psnr"]) == pytest.approx(sum(float(r["psnr"]) for r in blurred) / 3, abs=1e-5)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000

    assert (
        _run(folders / "blurred", folders / "gt", "--also", "psnr", "--crop-border", "0", "--out", folders / "s.json")
        == 0
    )
    report = json.loads((folders / "s.json").read_text())
    assert report["higher_better"] == {"psnr": True} and report["crop_border"] == 0
    assert report["summary"][0]["psnr_rank"] == 1 and set(report["also"]["psnr"]["blurred"]) == {"img0", "img1", "img2"}


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--also", "psnr,lpips"], "unknown metric(s) ['lpips']"),
        (["--plot", "scores.jpg"], "--plot must end in .png"),
        (["--crop-border", "-1"], "--crop-border must be >= 0"),
    ],
)
def test_usage_errors(folders, caplog, extra, message):  # noqa: F811
    assert _run(folders / "blurred", folders / "gt", *extra) == 2
    assert message in caplog.text
