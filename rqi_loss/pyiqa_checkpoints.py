"""Deprecated path of :mod:`rqi_loss.weights`: works until rqi_loss 0.3.0, with a DeprecationWarning."""

from ._moved_modules import alias_moved_module

alias_moved_module(__name__)
