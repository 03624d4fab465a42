"""The engine guide and the docstring examples of the state machine's modules run."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from holdem.engine import blinds, dealing, errors, pots, rake, showdown, table, views

GUIDE = Path(__file__).parents[3] / "docs" / "engine" / "README.md"


@pytest.mark.parametrize("module", [blinds, dealing, errors, pots, rake, showdown, table, views])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


def test_the_engine_guide_example_of_a_full_hand():
    assert doctest.testfile(str(GUIDE), module_relative=False).failed == 0
