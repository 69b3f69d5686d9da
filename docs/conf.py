"""Sphinx configuration for the skbayes documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` from the repository root.
Figures come from the scripts in ``examples/``: the ``plot`` directive of matplotlib
runs each one during the build and inserts the figures it draws.
"""

from __future__ import annotations

import os
import re
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Build from a source checkout without installing the package first.
sys.path.insert(0, ROOT)

import skbayes  # noqa: E402

project = "skbayes"
author = "skbayes developers"
copyright = "skbayes developers"
release = skbayes.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"  # `x` renders as code, never as a broken cross-reference

# -- API reference -------------------------------------------------------------
autosummary_generate = True  # stubs go to docs/generated/ (ignored by git)
autodoc_typehints = "none"  # numpydoc sections already give the types
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- Figures from the example scripts ------------------------------------------
plot_basedir = os.path.join(ROOT, "examples")
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.autolayout": False}
plot_apply_rcparams = True

# -- Cross-references to the libraries users already know -----------------------
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "torch": ("https://docs.pytorch.org/docs/stable/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
}
# The build must pass offline (CI may have no network, and -W turns a failed inventory
# download into an error), so the links are opt-in: SKBAYES_DOCS_INTERSPHINX=1.
intersphinx_timeout = 5
if os.environ.get("SKBAYES_DOCS_INTERSPHINX") != "1":
    intersphinx_mapping = {}

# -- HTML ------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"skbayes {release}"
html_static_path = ["_static"]
html_theme_options = {
    "description": "Bayesian estimators for scikit-learn that say how sure they are",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}

# Example scripts call plt.show() so that they also work from a terminal.
warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)


# -- Docstring markup that Python's help() tolerates but reStructuredText does not --
# Two patterns seen in the estimators' docstrings, repaired before numpydoc parses them
# (and reported upstream, so the docstrings get fixed at the source too):
# * a backslash line continuation inside a raw (r"""...""") docstring, which Python
#   keeps as a literal backslash and newline, and reST reads as a block quote;
# * a bare ``name_`` in a parameter's type, e.g. ``ndarray of shape (n_features_in_,)``,
#   which reST reads as a hyperlink reference to a target that does not exist, and a
#   bare ``*`` there, e.g. ``(n_samples, *shape)``, which reST reads as emphasis.
_TYPE_LINE = re.compile(r"^(\s*\*{0,2}\w+(?:, \w+)* : )(.*)$")
_BARE_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])(\w+_)(?![`\w])")


def _repair_docstring(app, what, name, obj, options, lines):
    i = 0
    while i < len(lines) - 1:
        if _TYPE_LINE.match(lines[i]) and lines[i].rstrip().endswith("\\"):
            lines[i] = lines[i].rstrip()[:-1].rstrip() + " " + lines[i + 1].strip()
            del lines[i + 1]
        else:
            i += 1
    for i, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match:
            kind = _BARE_TRAILING_UNDERSCORE.sub(r"`\1`", match.group(2))
            kind = re.sub(r"(?<![\\`])\*", r"\\*", kind)
            lines[i] = match.group(1) + kind


def setup(app):
    # Before numpydoc (priority 500) turns the docstring into reST.
    app.connect("autodoc-process-docstring", _repair_docstring, priority=100)
