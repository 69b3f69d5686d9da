"""Sphinx configuration for the skbayes documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` from the repository root.
Figures come from the scripts in ``examples/``: the ``plot`` directive of matplotlib
runs each one during the build and inserts the figures it draws.
"""

from __future__ import annotations

import os
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
