"""The browser harness itself: it serves a folder, blocks and records every request to another
host, and records console errors and failed local requests (tests/browser.py)."""

from pathlib import Path

from browser import BROWSER_MARKS, browser_page, serve

pytestmark = BROWSER_MARKS

PAGE = """<!doctype html><html><head>
<link rel="stylesheet" href="https://cdn.example.com/style.css"></head>
<body><p id="text">served</p><img src="missing.png">
<script>console.error("an error from the page")</script></body></html>"""


def test_harness_blocks_other_hosts_and_records_errors(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    with serve(tmp_path) as base, browser_page(width=800, height=600) as watched:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/")
        watched.page.goto(base)
        watched.page.wait_for_load_state("networkidle")
        assert watched.page.inner_text("#text") == "served"
        assert watched.external_requests == ["https://cdn.example.com/style.css"]
        assert any("an error from the page" in e for e in watched.console_errors)
        assert f"{base}missing.png: HTTP 404" in watched.failed_requests
