"""Counter-based Philox4x32-10 random numbers over lanes of paths.

A draw is a pure function of (seed, path id, stream, counter): no state is carried
between calls, so a path's numbers never depend on threads, chunking or order.
Counter words: c0 = counter (a step or a block of four steps), c1/c2 = path id
(low/high 32 bits), c3 = stream. Key = the 64-bit seed. Reference: Salmon et al.,
"Parallel random numbers: as easy as 1, 2, 3" (SC11); known-answer vectors in the tests.
"""
import numpy as np
from numba import njit

from pricing_kernels import CACHE, CALLED
from pricing_kernels.vecmath import bits_f64, cos_small, log_vec, sin_small

MASK32 = np.uint64(0xFFFFFFFF)
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
SHIFT32 = np.uint64(32)
TWO52_BITS = 0x4330000000000000
TWO52 = 4503599627370496.0
HALF_PI = 1.5707963267948966
NORMAL_ROWS = 16    # steps' normals drawn by one call of step_normals (four Philox counters)


@njit(inline="always")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on 32-bit words held in uint64; returns the four output words."""
    for _ in range(10):
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        c0, c1, c2, c3 = ((p1 >> SHIFT32) ^ c1 ^ k0, p1 & MASK32,
                          (p0 >> SHIFT32) ^ c3 ^ k1, p0 & MASK32)
        k0 = (k0 + PHILOX_W0) & MASK32
        k1 = (k1 + PHILOX_W1) & MASK32
    return c0, c1, c2, c3


@njit(inline="always")
def word_to_double(w):
    """Exact float64 of a 32-bit word (bit trick instead of a scalar int->float convert)."""
    return bits_f64(np.int64(w) | TWO52_BITS) - TWO52


@njit(inline="always")
def uniform_open(w):
    """A 32-bit word mapped to (0, 1): (w + 0.5) / 2**32, never 0 or 1."""
    return (word_to_double(w) + 0.5) * 2.3283064365386963e-10


@njit(inline="always")
def normal_pair(w0, w1):
    """Box-Muller: radius from w0; angle from w1 (2 bits pick the quadrant, 30 bits the offset)."""
    radius = np.sqrt(-2.0 * log_vec(uniform_open(w0)))
    quadrant = w1 >> np.uint64(30)
    frac = (word_to_double(w1 & np.uint64(0x3FFFFFFF)) + 0.5) * 9.313225746154785e-10
    phi = (frac - 0.5) * HALF_PI
    c = cos_small(phi)
    s = sin_small(phi)
    odd = (quadrant & np.uint64(1)) != np.uint64(0)
    a = -s if odd else c
    b = c if odd else s
    sign = -radius if (quadrant & np.uint64(2)) != np.uint64(0) else radius
    return a * sign, b * sign


@njit(inline="always")
def split_seed(seed):
    """The Philox key words of a seed already reduced to [0, 2**64)."""
    s = np.uint64(seed)
    return s & MASK32, s >> SHIFT32


@njit(inline="always")
def words_lane(k0, k1, path_id, stream, counter):
    """The four raw 32-bit words of one lane's draw."""
    return philox4x32(np.uint64(counter), path_id & MASK32, path_id >> SHIFT32, np.uint64(stream),
                      k0, k1)


@njit(inline="always")
def normals4_lane(k0, k1, path_id, stream, counter):
    """Four standard normals for one lane."""
    r0, r1, r2, r3 = words_lane(k0, k1, path_id, stream, counter)
    z0, z1 = normal_pair(r0, r1)
    z2, z3 = normal_pair(r2, r3)
    return z0, z1, z2, z3


@njit(cache=CACHE, error_model="numpy", **CALLED)
def _called_normal_rows(k0, k1, path_ids, signs, stream, first_counter, n_counters, out):
    """out[4c + j, lane] = j-th of normals4_lane's four normals for counter first_counter + c
    of each lane's path, times its antithetic sign, behind draw_normal_rows (int64 stream and
    counters). Its lane loop draws the words and the two Box-Muller pairs itself: through
    normals4_lane and a lane-loop helper, numba's inlining copied the expanded IR twice more
    and the function compiled in about twice the time."""
    for c in range(n_counters):
        for lane in range(path_ids.size):
            r0, r1, r2, r3 = words_lane(k0, k1, path_ids[lane], stream, first_counter + c)
            z0, z1 = normal_pair(r0, r1)
            z2, z3 = normal_pair(r2, r3)
            s = signs[lane]
            out[4 * c, lane] = s * z0
            out[4 * c + 1, lane] = s * z1
            out[4 * c + 2, lane] = s * z2
            out[4 * c + 3, lane] = s * z3


@njit(inline="always")
def draw_normal_rows(k0, k1, path_ids, signs, stream, first_counter, n_counters, out):
    """out[4c + j, lane] = j-th normal of counter first_counter + c of each lane's path, times
    its sign (normals4_lane's, bit for bit), for c < n_counters: a call of one function
    compiled once for every kernel and stream (stream and counters go as int64, so that no
    constant stream gets a compile of its own). Inlined, the Philox rounds and Box-Muller
    lengthened every kernel's compile by about a second; called once per counter they cost
    about 10% of a GBM kernel's run, called once per four counters nothing measurable."""
    _called_normal_rows(k0, k1, path_ids, signs, np.int64(stream), np.int64(first_counter),
                        np.int64(n_counters), out)


@njit(inline="always")
def draw_normals4(k0, k1, path_ids, signs, stream, counter, out):
    """The four normals of one counter (draw_normal_rows of one counter): for the draws a kernel
    makes a few times a month or less."""
    draw_normal_rows(k0, k1, path_ids, signs, stream, counter, 1, out)


@njit(inline="always")
def step_normals(k0, k1, path_ids, signs, stream, i, n_steps, z):
    """The row of z (NORMAL_ROWS x lanes) that holds step i's normal, one normal a step and
    four a counter (counter i // 4, row i % 4 of its four): every NORMAL_ROWS steps, one call
    draws the next NORMAL_ROWS steps' normals (fewer at the end of the grid)."""
    row = i % NORMAL_ROWS
    if row == 0:
        draw_normal_rows(k0, k1, path_ids, signs, stream, i // 4,
                         min(NORMAL_ROWS // 4, (n_steps - i + 3) // 4), z)
    return row


@njit(inline="always")
def fill_words(k0, k1, path_ids, stream, counter, out):
    """out[j, lane] = the four raw 32-bit words of each lane's draw (for uniforms)."""
    for lane in range(path_ids.size):
        r0, r1, r2, r3 = words_lane(k0, k1, path_ids[lane], stream, counter)
        out[0, lane] = r0
        out[1, lane] = r1
        out[2, lane] = r2
        out[3, lane] = r3


@njit(cache=CACHE, error_model="numpy", **CALLED)
def _called_words(k0, k1, path_ids, stream, counter, out):
    """fill_words behind draw_words (int64 stream and counter)."""
    fill_words(k0, k1, path_ids, stream, counter, out)


@njit(inline="always")
def draw_words(k0, k1, path_ids, stream, counter, out):
    """fill_words as a call of one function compiled once for every kernel and stream (as
    draw_normal_rows): for words drawn once a step or less."""
    _called_words(k0, k1, path_ids, np.int64(stream), np.int64(counter), out)


@njit(cache=CACHE, error_model="numpy", **CALLED)
def _called_event(k0, k1, path_id, stream, number):
    """event_draw's arithmetic (int64 stream and number)."""
    w0, w1, w2, w3 = words_lane(k0, k1, path_id, stream, number)
    z, _ = normal_pair(w0, w1)
    return z, -log_vec(uniform_open(w2)), uniform_open(w3)


@njit(inline="always")
def event_draw(k0, k1, path_id, stream, number):
    """Event `number` of a path's Poisson process on `stream`: a standard normal (words 0 and
    1), the gap to the next event on the process's clock (exponential, word 2) and a uniform
    (word 3). A call of one function compiled once: events are rare, and inlined draws only
    lengthen a kernel's compile."""
    return _called_event(k0, k1, path_id, np.int64(stream), np.int64(number))


@njit(inline="always")
def poisson_count(u, cdf_row):
    """N with P(N <= k) = cdf_row[k] by inverse transform of the uniform u."""
    count = 0.0
    for k in range(cdf_row.size):
        count += 1.0 if u > cdf_row[k] else 0.0
    return count


@njit(cache=CACHE)
def philox_raw(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on explicit counter and key words (known-answer tests)."""
    return philox4x32(np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3),
                      np.uint64(k0), np.uint64(k1))


@njit(cache=CACHE)
def normals(seed, path_ids, stream, n_counters):
    """Normals of each path id for counters 0..n_counters-1, shape (paths, 4 * n_counters)."""
    k0, k1 = split_seed(seed)
    out = np.empty((path_ids.size, 4 * n_counters))
    for p in range(path_ids.size):
        pid = np.uint64(path_ids[p])
        for c in range(n_counters):
            z0, z1, z2, z3 = normals4_lane(k0, k1, pid, stream, c)
            out[p, 4 * c] = z0
            out[p, 4 * c + 1] = z1
            out[p, 4 * c + 2] = z2
            out[p, 4 * c + 3] = z3
    return out
