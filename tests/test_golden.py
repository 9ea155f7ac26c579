"""Whole runs against the stored set of tests/golden.py: a refactor that moves a figure fails
here. Held to 1e-12 relative (the bits themselves: `python tests/golden.py --check`)."""
import math

import golden
import pytest

STORED = golden.load()


@pytest.fixture(scope="module")
def figures():
    return golden.compute()


def test_the_set_is_large_enough():
    assert len(STORED) >= 20


@pytest.mark.parametrize("name", sorted(STORED))
def test_figure_unchanged(figures, name):
    assert math.isclose(figures[name], STORED[name], rel_tol=1e-12, abs_tol=1e-300), (
        f"{name}: stored {STORED[name]!r}, now {figures[name]!r}")
