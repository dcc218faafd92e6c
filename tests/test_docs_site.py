"""The documentation site builds in strict mode and works in the system Chromium.

Every page of the site loads without a console error and asks for nothing outside the
site, and the search box finds a page.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")
pytest.importorskip("material")
pytest.importorskip("mkdocs_jupyter")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by ``mkdocs build --strict`` (a warning, such as a broken link, fails it)."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The site served over HTTP on the loopback interface (search fetches its index, which file:// forbids)."""
    handler = functools.partial(QuietHandler, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}/"
        server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def pages(site: Path, base: str) -> list[str]:
    """Every page of the site (each is a folder's ``index.html``), as a URL of the served site."""
    folders = sorted(p.parent.relative_to(site).as_posix() for p in site.rglob("index.html"))
    return [base if folder == "." else f"{base}{folder}/" for folder in folders]


def test_the_site_has_every_page(site: Path) -> None:
    for page in [
        "index.html",
        "tutorials/backprop/index.html",
        "reference/value/index.html",
        "notebooks/demo/index.html",
    ]:
        assert (site / page).is_file(), page
    assert "backpropagate" in (site / "reference" / "value" / "index.html").read_text(encoding="utf-8")
    # the notebooks are rendered with their committed outputs: the figures are there
    assert "data:image/png;base64" in (site / "notebooks" / "demo" / "index.html").read_text(encoding="utf-8")


def test_every_page_loads_without_errors_or_requests_outside_the_site(site: Path, served: str, browser: Any) -> None:
    urls = pages(site, served)
    assert len(urls) >= 30
    page = browser.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

    def route(r: Any) -> None:
        if r.request.url.startswith(served):
            r.continue_()
        else:
            outside.append(f"{page.url}: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    for url in urls:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.ok, url
        assert page.title(), url
    page.close()
    assert errors == [] and outside == []


#: How long search may take to answer. The index loads in a web worker, which a loaded
#: machine runs slowly; the test waits for the events, so a quiet machine takes far less.
SEARCH_TIMEOUT_MS = 60_000
#: True once the worker has loaded the index: the theme then replaces its "Initializing
#: search" note. From then on it searches as keys are typed (on key events, not on a value
#: set by script), so the test types the query as a person does.
SEARCH_READY = """() => {
    const meta = document.querySelector(".md-search-result__meta");
    return meta !== null && meta.textContent.trim() !== "" && !meta.textContent.includes("Initializing");
}"""


def test_search_finds_a_page(served: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(served, wait_until="load")
    page.wait_for_function(SEARCH_READY, timeout=SEARCH_TIMEOUT_MS)
    page.locator("input.md-search__input").press_sequentially("gradcheck")
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=SEARCH_TIMEOUT_MS)
    assert results.count() >= 1
    assert "gradcheck" in results.first.inner_text().lower()
    page.close()
