"""The examples in the public API's docstrings run as written (doctest), offline, with the embedded network."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "rqi_loss.loss",
    "rqi_loss.functional",
    "rqi_loss.metric.rqi_metric",
    "rqi_loss.factory",
    "rqi_loss.networks.base",
    "rqi_loss.metric.cli",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
