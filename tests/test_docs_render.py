"""The built docs render offline: maths typeset, thumbnails drawn, nothing remote.

These tests read an HTML build (``docs/_build/html``, or ``SKBAYES_DOCS_HTML``); they
skip when there is none, so ``pytest`` before the docs build skips them, and CI runs
this file again after ``python -m sphinx -W -b html docs docs/_build/html`` with
``SKBAYES_DOCS_REQUIRE_BUILD=1``, which turns a missing build into a failure. The
browser tests open pages in headless Chromium (Debian's ``chromium``; skipped when it
is not installed) with every host name unresolvable, as on a machine without network.
``SKBAYES_DOCS_SCREENSHOTS=<dir>`` also saves a screenshot of each page there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("SKBAYES_DOCS_HTML", ROOT / "docs" / "_build" / "html"))
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))

# Pages with maths: the user guide's derivations and an example's text cells.
MATH_PAGES = [
    "user_guide/probability.html",
    "user_guide/classification.html",
    "user_guide/reparameterisation.html",
    "auto_examples/plot_reparameterisation.html",
    "auto_examples/plot_offdata.html",
]
SCREENSHOT_PAGES = [
    "index.html",
    "user_guide/classification.html",
    "auto_examples/index.html",
    "generated/skbayes.GaussianLinearRegression.html",
]


@pytest.fixture(scope="module")
def html_dir() -> Path:
    if not (HTML / "index.html").is_file():
        if os.environ.get("SKBAYES_DOCS_REQUIRE_BUILD") == "1":
            pytest.fail(f"no documentation build in {HTML}")
        pytest.skip(f"no documentation build in {HTML} (build the docs first)")
    return HTML


def _chromium() -> str:
    path = shutil.which(os.environ.get("SKBAYES_CHROMIUM", "chromium"))
    if not path:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def _chromium_run(page: Path, tmp_path: Path, *action: str) -> str:
    """Run headless Chromium on ``page`` with no network; return its stdout."""
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # Any host name fails to resolve: what renders here renders offline.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=20000",  # let MathJax finish typesetting
        *action,
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


# tag -> attribute whose URL the browser fetches by itself (not <a href>).
_FETCHED = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "video": "src",
    "audio": "src",
    "embed": "src",
    "link": "href",
}
_NOT_TEXT = {"script", "style", "pre", "code", "textarea"}


class _Page(HTMLParser):
    """Collects the URLs a page fetches, its visible text and its maths elements."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.tags: dict[str, int] = {}
        self.math_sources = 0
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        url = attrs.get(_FETCHED.get(tag, ""))
        # <link rel="canonical"> and the like are never fetched; stylesheets, icons,
        # preloads and preconnects are.
        if url and not (tag == "link" and attrs.get("rel") in {"canonical", "index"}):
            self.fetched.append(url)
        if tag in {"span", "div"} and "math" in (attrs.get("class") or "").split():
            self.math_sources += 1
        if tag in _NOT_TEXT:
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in _NOT_TEXT and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


_REMOTE = re.compile(r"^(?:https?:)?//", re.IGNORECASE)
_CSS_REMOTE = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])\s*(?:https?:)?//", re.I)


def test_no_page_fetches_anything_remote(html_dir):
    remote = {}
    for page in sorted(html_dir.rglob("*.html")):
        urls = [u for u in _parse(page.read_text()).fetched if _REMOTE.match(u)]
        if urls:
            remote[str(page.relative_to(html_dir))] = urls
    for css in sorted(html_dir.rglob("*.css")):
        if _CSS_REMOTE.search(css.read_text(errors="replace")):
            remote[str(css.relative_to(html_dir))] = ["a remote url() or @import"]
    assert not remote, remote


def test_mathjax_is_served_from_the_build(html_dir):
    scripts = _parse((html_dir / MATH_PAGES[0]).read_text()).fetched
    mathjax = [s for s in scripts if "mathjax" in s.lower()]
    assert mathjax, "the page loads no MathJax"
    for src in mathjax:
        target = (html_dir / MATH_PAGES[0]).parent / src.split("?")[0]
        assert target.is_file(), f"{src} is not in the build"


def test_gallery_has_a_thumbnail_per_example(html_dir):
    index = html_dir / "auto_examples" / "index.html"
    text = index.read_text()
    images = _parse(text).fetched
    assert len(EXAMPLES) > 0
    for script in EXAMPLES:
        ref = f"{script.stem}.html"
        assert ref in text, f"the gallery does not list {script.name}"
        # The example's own figure, not sphinx-gallery's "no image" placeholder.
        thumbs = [s for s in images if s.endswith(f"sphx_glr_{script.stem}_thumb.png")]
        assert thumbs, f"no thumbnail for {script.name}"
        thumb = index.parent / thumbs[0]
        assert thumb.is_file() and thumb.stat().st_size > 1000, f"no thumbnail: {thumb}"
        page = (index.parent / ref).read_text()
        # Downloads as a script and as a notebook, and the run time.
        assert f"{script.stem}.py" in page and f"{script.stem}.ipynb" in page
        assert "Total running time of the script" in page


def test_api_pages_link_back_to_the_examples(html_dir):
    page = html_dir / "generated" / "skbayes.GaussianLinearRegression.html"
    text = page.read_text()
    gallery = text.partition("Gallery examples")[2]
    assert re.search(r'href="\.\./auto_examples/plot_\w+\.html', gallery)


@pytest.mark.parametrize("name", MATH_PAGES)
def test_maths_is_typeset_offline(html_dir, name, tmp_path):
    page = html_dir / name
    source = _parse(page.read_text())
    assert source.math_sources > 0, f"{name} has no maths to check"
    rendered = _parse(_chromium_run(page, tmp_path, "--dump-dom"))
    # MathJax replaces the TeX of each maths element by an <mjx-container>.
    assert rendered.tags.get("mjx-container", 0) >= source.math_sources
    assert not rendered.tags.get("mjx-merror"), "MathJax reported a TeX error"
    text = "".join(rendered.text)
    for raw in ("\\(", "\\["):
        assert raw not in text, f"raw {raw} left in the text of {name}"


@pytest.mark.parametrize("name", SCREENSHOT_PAGES)
def test_screenshot(html_dir, name, tmp_path):
    out_dir = os.environ.get("SKBAYES_DOCS_SCREENSHOTS")
    out = Path(out_dir) if out_dir else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    png = out / (name.replace("/", "_").removesuffix(".html") + ".png")
    _chromium_run(
        html_dir / name, tmp_path, "--window-size=1280,1600", f"--screenshot={png}"
    )
    assert png.is_file() and png.stat().st_size > 10_000, "blank or missing screenshot"
