"""Sphinx configuration for the skbayes documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` from the repository
root. The scripts in ``examples/`` become a sphinx-gallery (``docs/auto_examples/``):
each runs once during the build, its figures feed the example pages, the user guide and
the API pages' "Examples using" sections. MathJax is served from the build itself
(``sphinx-mathjax-offline``), so the pages need no network.
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
    "sphinx-mathjax-offline",  # copies MathJax 3 into _static/mathjax/
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # Kept so that a ``.. plot::`` in a page still builds; the shipped pages use the
    # gallery's figures instead, so no example runs twice.
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

# -- Maths: MathJax from _static, never from a CDN -----------------------------
mathjax_path = "mathjax/tex-chtml.js"  # relative: resolved against _static/

# -- The example gallery --------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every plot_*.py
    "within_subsection_order": "FileNameSortKey",
    # "Examples using X" on each API page (see _templates/autosummary/class.rst).
    "doc_module": ("skbayes",),
    "backreferences_dir": os.path.join("generated", "backreferences"),
    "download_all_examples": True,
    "remove_config_comments": True,
    "thumbnail_size": (400, 280),
    "min_reported_time": 0,
    "show_memory": False,
    # Each example page states its own run time; the summary pages would load jQuery
    # and DataTables from CDNs, and the docs must render offline.
    "write_computation_times": False,
    # Raise on a failing example: the docs must not ship a broken one.
    "abort_on_example_error": True,
}

# -- Figures drawn by the plot directive (for pages that still use it) ---------
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
html_theme = "pydata_sphinx_theme"
html_title = f"skbayes {release}"
html_static_path = ["_static"]
html_css_files = ["skbayes.css"]
html_theme_options = {
    "logo": {"text": "skbayes"},
    "navbar_align": "left",
    # The search box as a button keeps the navigation bar on one line.
    "navbar_persistent": [],
    "navbar_end": ["search-button", "theme-switcher"],
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# The page table of contents says "fit", not "GaussianLinearRegression.fit".
toc_object_entries_show_parents = "hide"
# Pages without a left sidebar, as in scikit-learn's docs.
html_sidebars = {"index": [], "auto_examples/index": []}

# Example scripts call plt.show() so that they also work from a terminal.
warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
