"""Sphinx configuration of the crosswind documentation (``make docs``).

The pages are Markdown (MyST) so that they read the same on GitHub; the API
reference is reStructuredText driving autodoc.  The build runs with
warnings as errors, so a broken link, a missing page or a malformed
docstring fails it.
"""

from __future__ import annotations

import os
import sys

# The repository root, so that ``examples`` can be imported by autodoc and
# literalinclude paths resolve the same from any working directory.
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

project = "crosswind"
author = "the crosswind authors"
copyright = "the crosswind authors"  # noqa: A001 - Sphinx reads this name

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Headings become link targets, so ``[limits](security.md#limits)`` works.
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

# Type hints are linked by their short names, and a few short names belong to two
# public classes (crosswind.protocol.exchange.Application, the protocol every application meets,
# and crosswind.web.Application; crosswind.protocol.events.Request and crosswind.app.Request).
# Where a hint cannot be resolved to its module, Sphinx reports the ambiguity and links
# the first; that is the only warning silenced here.  Unresolved references do not warn
# (nitpicky is off), so nothing else is hidden by it.
suppress_warnings = ["ref.python"]

html_theme = "alabaster"
html_title = "crosswind"
