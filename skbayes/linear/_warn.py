"""Warnings that point at the user's line, however deep the solver sits."""

from __future__ import annotations

import os
import sys
import warnings

import sklearn

import skbayes

# Frames in these packages are library code: the warning is attributed to the
# first frame outside them (the user's call to fit, or to GridSearchCV.fit).
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(mod.__file__)) + os.sep
    for mod in (skbayes, sklearn)
)


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` with the stacklevel of the first non-library frame."""
    # stacklevel=2 is warn_user's caller, sys._getframe(1)
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        _LIBRARY_DIRS
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
