"""The documentation runs: every example script, every ``>>>`` block of the user guide,
and an API reference that lists every public name.

An example or a page is skipped (not failed) while a module it imports does not exist
yet, so the docs can be written ahead of the code; once the module lands, it runs.
"""

from __future__ import annotations

import doctest
import importlib
import re
import runpy
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
PAGES = sorted(
    p
    for p in DOCS.rglob("*.rst")
    # Sources only: not the build, nor what autosummary and sphinx-gallery generate.
    if not {"_build", "generated", "_templates", "auto_examples"} & set(p.parts)
)

# Single-line import statements, in scripts and in ``>>>`` lines.
_IMPORT = re.compile(
    r"^\s*(?:>>> )?((?:from\s+\S+\s+)?import\s+[^()\n]+?)\s*(?:#.*)?$", re.MULTILINE
)


def _skip_unless_importable(text: str) -> None:
    """Skip the test if one of the imports in ``text`` fails (a module not landed)."""
    for statement in _IMPORT.findall(text):
        try:
            exec(statement, {})
        except ImportError as exc:
            pytest.skip(f"needs {statement!r}: {exc}")


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _skip_unless_importable(script.read_text())
    monkeypatch.chdir(script.parent)
    plt.close("all")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive.*")
        runpy.run_path(str(script), run_name="__main__")
    try:
        assert plt.get_fignums(), f"{script.name} drew no figure"
    finally:
        plt.close("all")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_doc_page_doctests(page):
    text = page.read_text()
    if ">>>" not in text:
        pytest.skip("no doctests on this page")
    _skip_unless_importable(text)
    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {page.name}"


PUBLIC_MODULES = [
    "skbayes",
    "skbayes.metrics",
    "skbayes.plotting",
    "skbayes.datasets",
    "skbayes.dask",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_api_reference_lists_every_public_name(module_name):
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        pytest.skip(f"{module_name} not importable: {exc}")
    api = (DOCS / "api.rst").read_text()
    listed = set(re.findall(r"^   (\w+)$", api, re.MULTILINE))
    public = [
        name for name in getattr(module, "__all__", []) if not name.startswith("_")
    ]
    missing = sorted(set(public) - listed)
    assert not missing, f"docs/api.rst does not list {module_name}: {missing}"


def _api_page(name: str) -> str:
    """The page autosummary writes for ``skbayes.<name>``, read off ``docs/api.rst``.

    The names listed before the first ``.. currentmodule::`` are documented under
    ``.. module:: skbayes``, so their stubs are ``generated/skbayes.<name>.rst``.
    """
    api = (DOCS / "api.rst").read_text()
    root_section = api.split(".. currentmodule::")[0]
    assert re.search(r"^\.\. module:: skbayes$", root_section, re.MULTILINE)
    toctree = re.search(r":toctree: (\S+)/", root_section).group(1)
    listed = re.findall(r"^   (\w+)$", root_section, re.MULTILINE)
    assert name in listed, f"docs/api.rst does not list {name} under skbayes"
    return f"{toctree}/skbayes.{name}.html"


def _estimator_names() -> list[str]:
    from sklearn.base import BaseEstimator

    import skbayes

    return [
        name
        for name in skbayes.__all__
        if isinstance(getattr(skbayes, name), type)
        and issubclass(getattr(skbayes, name), BaseEstimator)
    ]


@pytest.mark.parametrize("name", _estimator_names())
def test_html_repr_links_to_the_api_page(name):
    import skbayes

    est = getattr(skbayes, name)()
    link = est._get_doc_link()
    base, sep, page = link.partition("/en/latest/")
    assert base.startswith("https://") and sep, link
    assert page == _api_page(name)
    doc_link = r'class="sk-estimator-doc-link[^"]*"[^>]*href="' + re.escape(link) + '"'
    assert re.search(doc_link, est._repr_html_())
