"""The vectorizable exp, log and sin/cos over their whole input ranges (max error <= 1e-9 rel)."""
import math

import numpy as np
from numba import njit

from pricing_kernels.rng import uniform_open, word_to_double
from pricing_kernels.vecmath import cos_small, exp_vec, log_vec, sin_small


@njit
def _apply(kind, x):
    out = np.empty_like(x)
    for i in range(x.size):
        if kind == 0:
            out[i] = exp_vec(x[i])
        elif kind == 1:
            out[i] = log_vec(x[i])
        elif kind == 2:
            out[i] = sin_small(x[i])
        else:
            out[i] = cos_small(x[i])
    return out


@njit
def _uniforms(words):
    out = np.empty(words.size)
    for i in range(words.size):
        out[i] = uniform_open(words[i])
    return out


def _max_rel(approx, exact):
    return float(np.max(np.abs(approx / exact - 1.0)))


def test_exp_over_its_range():
    x = np.concatenate([np.linspace(-700, 700, 2_000_001), np.linspace(-1e-3, 1e-3, 10_001)])
    assert _max_rel(_apply(0, x), np.exp(x)) < 5e-15


def test_log_over_all_uniforms():
    # Box-Muller takes logs of (w + 0.5) / 2**32 for 32-bit words w: test across the whole range.
    words = np.unique(np.concatenate([np.arange(0, 2 ** 20), np.linspace(0, 2 ** 32 - 1, 2_000_001)
                                      .astype(np.uint64)])).astype(np.uint64)
    u = _uniforms(words)
    assert u.min() > 0.0 and u.max() < 1.0
    exact = np.log(u)
    err = np.abs(_apply(1, u) - exact) / np.maximum(np.abs(exact), 1e-300)
    assert float(err.max()) < 5e-15
    x = np.geomspace(1e-300, 1e300, 200_001)
    exact = np.log(x)
    assert np.max(np.abs(_apply(1, x) - exact) / np.maximum(np.abs(exact), 1.0)) < 5e-15


def test_sin_cos_on_quarter_circle():
    x = np.linspace(-math.pi / 4, math.pi / 4, 2_000_001)
    assert np.max(np.abs(_apply(2, x) - np.sin(x))) < 3e-16
    assert np.max(np.abs(_apply(3, x) - np.cos(x))) < 3e-16


def test_word_to_double_is_exact():
    words = np.array([0, 1, 2 ** 31, 2 ** 32 - 1], dtype=np.uint64)
    assert list(_uniforms(words) * 2.0 ** 32 - 0.5) == [0.0, 1.0, 2.0 ** 31, 2.0 ** 32 - 1]
    assert word_to_double(np.uint64(123456789)) == 123456789.0
