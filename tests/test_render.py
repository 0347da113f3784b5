"""report.html is self-contained (no request leaves the page) and shows what is below
100 % in red; report.pdf is printed by real headless Chromium (Playwright)."""

from __future__ import annotations

import re

import pytest

from por.render import Browser, chromium_path
from tests.round_bundle import build_round


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    b, _key, _ = build_round(tmp_path_factory.mktemp("render"), users=60, seed=5, pdf=True)
    return b


def test_pdf_is_printed_by_chromium(bundle):
    pdf = (bundle / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2  # a multi-page A4 print


def test_html_is_self_contained_and_flags_red(bundle):
    html = (bundle / "report.html").read_text()
    # the only URL is the SVG namespace, which is never fetched
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert re.search(r'<tr class="below"><td class="l"><b>ETH</b>', html)
    assert "BELOW 100 %" in html
    from playwright.sync_api import sync_playwright

    requests = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = b.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto((bundle / "report.html").resolve().as_uri(), wait_until="load")
        color = page.eval_on_selector("tr.below .pct.bad", "e => getComputedStyle(e).color")
        assert page.locator("svg").count() >= 2
        b.close()
    assert requests == [(bundle / "report.html").resolve().as_uri()]
    assert color == "rgb(207, 34, 46)"  # red


def test_screenshot(bundle, tmp_path):
    out = tmp_path / "shot.png"
    with Browser() as br:
        br.png(bundle / "report.html", out, height=900)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (w, h) == (1180, 900)
