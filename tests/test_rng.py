"""Philox4x32-10 known answers and the distribution of the normals."""
import numpy as np
from numba import njit
from scipy import stats

from pricing_kernels.rng import (NORMAL_ROWS, _called_normal_rows, draw_normals4, normals,
                                 normals4_lane, philox_raw, step_normals)

M = 0xFFFFFFFF


def test_philox_known_answers():
    # Known-answer vectors of the Random123 distribution (kat_vectors, philox4x32_10).
    assert [int(x) for x in philox_raw(0, 0, 0, 0, 0, 0)] == [
        0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert [int(x) for x in philox_raw(M, M, M, M, M, M)] == [
        0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert [int(x) for x in philox_raw(0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344,
                                       0xA4093822, 0x299F31D0)] == [
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def test_normals_are_standard_normal_and_independent():
    z = normals(2026, np.arange(100_000, dtype=np.uint64), 0, 2)
    flat = z.ravel()
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    assert abs(flat.mean()) < 4 / np.sqrt(flat.size)
    assert abs(flat.var() - 1.0) < 4 * np.sqrt(2.0 / flat.size)
    corr = np.corrcoef(z.T)[np.triu_indices(8, 1)]
    assert np.all(np.abs(corr) < 5 / np.sqrt(z.shape[0]))


def test_streams_and_seeds_differ_and_repeat():
    ids = np.arange(1000, dtype=np.uint64)
    a = normals(0, ids, 0, 1)
    assert np.array_equal(a, normals(0, ids, 0, 1))
    assert not np.allclose(a, normals(1, ids, 0, 1))
    assert not np.allclose(a, normals(0, ids, 1, 1))


K0, K1 = np.uint64(7), np.uint64(9)


@njit
def _lane_normals(ids, signs, stream, counter, out):
    """normals4_lane of each lane, times its sign: the reference of the called draws."""
    for lane in range(ids.size):
        z0, z1, z2, z3 = normals4_lane(K0, K1, ids[lane], stream, counter)
        out[0, lane], out[1, lane] = signs[lane] * z0, signs[lane] * z1
        out[2, lane], out[3, lane] = signs[lane] * z2, signs[lane] * z3


@njit
def _both_draws(ids, signs, inlined, called):
    for stream in range(3):
        _lane_normals(ids, signs, stream, 5, inlined[stream])
    draw_normals4(K0, K1, ids, signs, 0, 5, called[0])
    draw_normals4(K0, K1, ids, signs, 1, 5, called[1])
    draw_normals4(K0, K1, ids, signs, 2, 5, called[2])


@njit
def _step_draws(ids, signs, n_steps, inlined, called):
    four = np.empty((4, ids.size))
    z = np.empty((NORMAL_ROWS, ids.size))
    for i in range(n_steps):
        _lane_normals(ids, signs, 0, i // 4, four)
        inlined[i] = four[i % 4]
        called[i] = z[step_normals(K0, K1, ids, signs, 0, i, n_steps, z)]


def test_called_normals_are_the_inlined_ones_from_one_compile():
    """draw_normals4 and step_normals (a step's normal from rows drawn NORMAL_ROWS steps at a
    time, fewer at the end of the grid) give normals4_lane's bits times the lane's sign, and
    every stream and row count shares one compile."""
    ids = np.arange(16, dtype=np.uint64)
    signs = np.where(ids % 2 == 0, 1.0, -1.0)
    inlined, called = np.empty((3, 4, 16)), np.empty((3, 4, 16))
    _both_draws(ids, signs, inlined, called)
    assert np.array_equal(inlined, called)
    for n_steps in (1, 12, NORMAL_ROWS, NORMAL_ROWS + 1, 3 * NORMAL_ROWS - 5):
        by_step, by_rows = np.empty((n_steps, 16)), np.full((n_steps, 16), np.nan)
        _step_draws(ids, signs, n_steps, by_step, by_rows)
        assert np.array_equal(by_step, by_rows)
    assert len(_called_normal_rows.signatures) == 1
