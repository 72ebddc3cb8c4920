"""rqi-score --report: the HTML page of examples/rank_methods.py, opened in a real browser (headless Chromium
through Playwright; skipped where either is absent): no console errors, sorting by a column reorders the rows,
the RQI maps' overlay toggles (checkbox and key m), every image it references exists; a screenshot is saved."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("rank_methods", ROOT / "examples" / "rank_methods.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("rank")
    assert module.main(["--out", str(out)]) == 0
    return out / "report.html"


def test_the_page_references_only_files_beside_it(report):
    text = report.read_text()
    sources = re.findall(r'src="([^"]+)"', text)
    assert len(sources) >= 5 * (4 + 3 + 4)  # 5 images: 4 panels, 3 overlays, at least 4 zoomed crops each
    assert all(not s.startswith(("http:", "https:", "/")) and (report.parent / s).is_file() for s in sources)
    assert "<script src" not in text and "<link" not in text  # no CDN: the CSS and JS are inline
    assert text.count('loading="lazy"') == len(sources)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
def test_the_page_works_in_a_browser(report, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (uses the system chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(report.as_uri())
        rows = "#methods tbody tr"
        methods = lambda: page.eval_on_selector_all(rows, "rs => rs.map(r => r.cells[1].textContent)")  # noqa: E731
        assert methods() == ["jpeg", "noise", "blur"]  # by RQI
        page.click("#methods th:nth-child(7) button")  # psnr, highest first
        assert methods() == ["jpeg", "noise", "blur"]
        page.click("#methods th:nth-child(9) button")  # haarpsi: noise first
        assert methods() == ["noise", "jpeg", "blur"]
        page.click("#methods th:nth-child(9) button")  # again: lowest first
        assert methods() == ["blur", "jpeg", "noise"]
        shown = lambda: page.eval_on_selector(".map", "m => getComputedStyle(m).display")  # noqa: E731
        assert shown() == "none"
        page.check("#show-maps")
        assert shown() == "block"
        page.keyboard.press("m")
        assert shown() == "none"
        page.screenshot(path=str(tmp_path / "report.png"))
        browser.close()
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
