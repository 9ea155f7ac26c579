"""`gpufin report`: a self-contained HTML deal report that renders in a real headless Chromium
with the network off, a PDF of the same report, and one-line refusals of bad outputs and of
specs that are not loans."""
import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from gpufin.report.build import write_report

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT_COPY = Path("/tmp/gpufin_report_screenshot.png")
PATHS = "2000"
SECTIONS = ("valuation", "terms", "collateral", "paths", "losses", "stress", "sensitivity", "sources",
            "reproduce")


def run(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                          cwd=ROOT)


@pytest.fixture(scope="module")
def html_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "deal.html"
    done = run("report", "data/deals/non_ig_ddtl.toml", "--paths", PATHS, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    return out


def test_html_report_is_self_contained_and_complete(html_report):
    page = html_report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(https?:)?//|@import""", page, re.I)
    assert "<script" not in page.lower()
    assert page.count('src="data:image/png;base64,') == 2
    for section in SECTIONS:
        assert f'id="{section}"' in page
    for text in ("Fair spread", "PD, cumulative", "Expected loss", "LGD", "WAL", "Loss VaR 99%",
                 "new-generation", "severe", "merchant utilization", "deals/non_ig_ddtl.toml",
                 "seed 2026", "2,000 Monte Carlo paths", "DSCR covenant", "±",
                 "gpufin report data/deals/non_ig_ddtl.toml --paths 2000 --out"):
        assert text in page, text


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is missing: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)),
                              options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    return driver


def _full_page_png(driver) -> bytes:
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    return base64.b64decode(shot["data"])


def test_report_renders_in_headless_chromium(html_report, tmp_path):
    driver = _browser()
    try:
        driver.get(html_report.as_uri())
        driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                    "if (document.readyState === 'complete') done(); "
                                    "else window.addEventListener('load', () => done());")
        severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not severe, severe
        images = driver.execute_script(
            "return [...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight,"
            " i.getBoundingClientRect().width, i.getBoundingClientRect().height]);")
        assert len(images) == 2
        for alt, complete, width, height, shown_w, shown_h in images:
            assert complete and width > 0 and height > 0 and shown_w > 0 and shown_h > 0, alt
        boxes = driver.execute_script("return [...document.querySelectorAll('svg')].map("
                                      "s => [s.getBoundingClientRect().width, s.getBoundingClientRect().height]);")
        assert all(w > 0 and h > 0 for w, h in boxes)
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);")
        assert all(name.startswith("data:") for name in resources), resources
        for section in SECTIONS:
            heading = driver.execute_script(f"return document.getElementById('{section}');")
            assert heading is not None and heading.is_displayed(), section
        tables = driver.execute_script("return document.querySelectorAll('table.data').length;")
        assert tables >= 12
        png = _full_page_png(driver)
    finally:
        driver.quit()
    assert png.startswith(b"\x89PNG")
    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(png)
    shutil.copyfile(screenshot, SCREENSHOT_COPY)


def test_pdf_report(tmp_path):
    out = tmp_path / "deal.pdf"
    done = run("report", "data/deals/merchant_fleet.toml", "--paths", PATHS, "--seed", "7", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    reader = PdfReader(out)
    assert len(reader.pages) >= 3
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Deal report: merchant_fleet" in text and "Stress scenarios" in text and "seed 7" in text


def test_report_api_for_the_ig_deal(tmp_path):
    out = write_report(ROOT / "data/deals/ig_anchored_ddtl.toml", tmp_path / "ig.html",
                       ["mc.paths=2000", "instrument.spread=0.03"], "gpufin report ...")
    page = out.read_text(encoding="utf-8")
    assert "Deal report: ig_anchored_ddtl" in page and "investment-grade anchor" in page
    assert "instrument.spread=0.03" in page and not list(tmp_path.glob(".ig.html.tmp-*"))


def _one_line_error(done, *parts):
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr
    for part in parts:
        assert part in lines[0]


def test_bad_extension_is_refused(tmp_path):
    out = tmp_path / "deal.docx"
    _one_line_error(run("report", "data/deals/non_ig_ddtl.toml", "--out", str(out)), "--out", ".html or .pdf")
    assert not out.exists()


def test_out_never_replaces_the_spec(tmp_path):
    spec = tmp_path / "deal.html"           # a spec named like a report, so only the input check refuses it
    text = (ROOT / "data/deals/non_ig_ddtl.toml").read_text()
    spec.write_text(text)
    _one_line_error(run("report", str(spec), "--out", str(spec)), "--out", "an input of this run")
    assert spec.read_text() == text
    deal = ROOT / "data/deals/non_ig_ddtl.toml"
    _one_line_error(run("report", str(deal), "--out", str(deal)), "--out")
    assert deal.read_text() == text


def test_a_spec_that_is_not_a_loan_is_refused(tmp_path):
    out = tmp_path / "asian.html"
    _one_line_error(run("report", "data/examples/asian.toml", "--out", str(out)), "instrument.kind", "loan")
    assert not out.exists()
