"""Several correlated rental indices in one model: their joint paths and joint moments.

Each index is a Schwartz-Smith index (gpufin.models.index.TwoFactor), ln S_n = g_n(t) +
chi_n + xi_n. The model's Gaussian factors are each index's short factor chi_n (OU, its
kappa_n and sigma_chi_n) and the long factor xi_n (drift mu_n, vol sigma_xi_n) of each index
that is not a basis index; `model.correlation` is the correlation of their Brownian shocks,
in that order (index by index: short, then long). A basis index B of A (`basis_of`) has no
long factor of its own: ln S_B = g_B + c_B + xi_A + ell, so that the log basis
b = ln S_B - ln S_A = (g_B - g_A) + c_B - chi_A + ell reverts to ell (plus the curves'
difference) at the rates of c_B and chi_A, and each index is still exactly two-factor on
its own (`MultiIndex.index`), so every closed form and kernel of one index prices it.
Launches: one Poisson process (and schedule) per SKU moves the long factor of every index
of the SKU at once, by mean_n + vol_n Z_k with one normal Z_k per launch; a basis index moves
with its base's long factor. Spikes: independent per index, in its short factor.

Moments tested against the simulation (tests/test_multi_index.py): each index's E[S_t] and
Var[ln S_t] (those of its TwoFactor), Cov[ln S_i(t), ln S_j(t)] and the basis' mean and
variance, in closed form here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpufin.errors import SpecError
from gpufin.models.index import TwoFactor, build_model, marginal_two_factor, with_forward_curve
from gpufin.spec.schema import Spec
from pricing_kernels.multi_index import multi_index_paths
from pricing_kernels.records import MultiIndexArgs, make

TWO_FACTOR_KINDS = ("schwartz", "schwartz-smith")
SEED_MOD = 2 ** 64              # a seed is reduced mod 2**64 into the Philox key


@dataclass(frozen=True)
class IndexPaths:
    """One index's paths on a grid: `level` (USD/GPU-hr), and the Gaussian-plus-jump state
    `chi`, `xi` of its TwoFactor (ln level = g(t) + chi + xi), each [path, date]."""
    level: np.ndarray
    chi: np.ndarray
    xi: np.ndarray


@dataclass(frozen=True)
class MultiIndex:
    """The joint model: named TwoFactor marginals, their factor slots and the factor
    correlation (K x K, K = the number of factors)."""
    names: tuple
    marginals: tuple            # TwoFactor per index
    slots: tuple                # (short, long) factor per index
    launch_groups: tuple        # per index: its SKU's launch group, -1 for a basis index
    correlation: tuple          # K rows of K entries

    @classmethod
    def single(cls, model: TwoFactor, name: str = "index") -> MultiIndex:
        """One index `name` of law `model` (its factors chi, xi with their correlation rho)."""
        return cls(names=(name,), marginals=(model,), slots=((0, 1),), launch_groups=(0,),
                   correlation=((1.0, model.rho), (model.rho, 1.0)))

    def index(self, name: str) -> TwoFactor:
        """The marginal model of index `name`."""
        return self.marginals[self._position(name)]

    def _position(self, name: str) -> int:
        if name not in self.names:
            raise SpecError("index", f"got {name!r}; expected one of {', '.join(self.names)}")
        return self.names.index(name)

    def _base(self, n: int) -> int:
        """The index whose long factor index n has: n itself, or its base."""
        long = self.slots[n][1]
        return next(m for m, (_, l) in enumerate(self.slots) if l == long and self.launch_groups[m] >= 0)

    def _factors(self):
        """Per factor: kappa (0 for a long factor), vol, drift and value today."""
        k = len(self.correlation)
        kappa, vol, drift, start = np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k)
        for n, ((short, long), m) in enumerate(zip(self.slots, self.marginals)):
            kappa[short], vol[short], start[short] = m.kappa, m.sigma_chi, m.chi0
            if self.launch_groups[n] >= 0:
                vol[long], drift[long], start[long] = m.sigma_xi, m.mu_xi, np.log(m.spot) - m.chi0
        return kappa, vol, drift, start

    def factor_covariance(self, dt: float) -> np.ndarray:
        """Cov of the factors' diffusive moves over dt years from a known start:
        rho_ab sigma_a sigma_b (1 - e^{-(k_a + k_b) dt}) / (k_a + k_b) (dt where k_a + k_b = 0)."""
        kappa, vol, _, _ = self._factors()
        total = kappa[:, None] + kappa[None, :]
        safe = np.where(total > 0.0, total, 1.0)
        integral = np.where(total > 0.0, -np.expm1(-total * dt) / safe, dt)
        return np.asarray(self.correlation) * np.outer(vol, vol) * integral

    def _launch_covariance(self, a: int, b: int, t: np.ndarray) -> np.ndarray:
        """Cov of the launch jumps of indices a and b by t (through their bases' long
        factors): one SKU shares each launch (compound Poisson: lambda t E[J_a J_b];
        scheduled: count x vol_a vol_b), different SKUs share none."""
        base_a, base_b = self._base(a), self._base(b)
        if self.launch_groups[base_a] != self.launch_groups[base_b]:
            return np.zeros_like(t)
        ma, mb = self.marginals[base_a], self.marginals[base_b]
        return (ma.launch_intensity * t * (ma.launch_mean * mb.launch_mean + ma.launch_vol * mb.launch_vol)
                + ma.launches_by(t) * ma.launch_vol * mb.launch_vol)

    def log_covariance(self, a: str, b: str, t) -> np.ndarray:
        """Cov[ln S_a(t), ln S_b(t)] per time in t (years): the factors' diffusive covariance,
        shared launches and, for a = b, the index's spikes."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        i, j = self._position(a), self._position(b)
        if i == j:
            return self.marginals[i].log_variance(t)
        out = np.empty_like(t)
        for n, tn in enumerate(t):
            cov = self.factor_covariance(tn)
            out[n] = sum(cov[p, q] for p in self.slots[i] for q in self.slots[j])
        return out + self._launch_covariance(i, j, t)

    def basis_mean(self, a: str, b: str, t) -> np.ndarray:
        """E[ln S_b(t) - ln S_a(t)], the mean log basis of b over a."""
        return self.index(b).log_mean(t) - self.index(a).log_mean(t)

    def basis_variance(self, a: str, b: str, t) -> np.ndarray:
        """Var[ln S_b(t) - ln S_a(t)]."""
        return (self.index(a).log_variance(t) + self.index(b).log_variance(t)
                - 2.0 * self.log_covariance(a, b, t))

    def kernel_args(self, times: np.ndarray) -> MultiIndexArgs:
        """The record of pricing_kernels.multi_index on the grid `times` (years, 0 first)."""
        times = np.asarray(times, dtype=float)
        if times.ndim != 1 or times.size < 2 or times[0] != 0.0 or np.any(np.diff(times) <= 0.0):
            raise SpecError("times", "expected increasing times in years starting at 0")
        dt = np.diff(times)
        kappa, _, drift, start = self._factors()
        chol = np.stack([lower_factor(self.factor_covariance(step)) for step in dt])
        m = self.marginals
        first = [m[self.launch_groups.index(g)] for g in range(max(self.launch_groups) + 1)]
        launch_rate = np.array([ix.launch_intensity for ix in first])
        sched = np.array([np.diff(ix.launches_by(times)) for ix in first]).reshape(len(first), dt.size)
        spike_rate = np.array([ix.spike_intensity for ix in m])
        long_start = [np.log(ix.spot) - ix.chi0 for ix in m]
        return make(MultiIndexArgs, state0=start, decay=np.exp(-np.outer(dt, kappa)),
                    mu_dt=np.outer(dt, drift), chol=chol,
                    short_slot=np.array([s for s, _ in self.slots], dtype=np.int64),
                    long_slot=np.array([l for _, l in self.slots], dtype=np.int64),
                    long_offset=np.array([x - start[l] for x, (_, l) in zip(long_start, self.slots)]),
                    shift=np.array([ix.shift(times[1:]) for ix in m]),
                    launch_group=np.array(self.launch_groups, dtype=np.int64),
                    launch_mean=np.array([ix.launch_mean for ix in m]),
                    launch_vol=np.array([ix.launch_vol for ix in m]),
                    launch_rate=launch_rate, launch_clock=np.outer(launch_rate, times[1:]),
                    launch_sched=sched, spike_rate=spike_rate,
                    spike_clock=np.outer(spike_rate, times[1:]),
                    spike_mean=np.array([ix.spike_mean for ix in m]),
                    spike_vol=np.array([ix.spike_vol for ix in m]),
                    kappa=np.array([ix.kappa for ix in m]))

    def simulate(self, times, n_paths: int, seed: int, first_path: int = 0) -> dict[str, IndexPaths]:
        """Joint paths of every index on the grid `times` (years, starting at 0): paths
        first_path .. first_path + n_paths - 1, each a function of (seed, path number) only."""
        level, chi, xi = multi_index_paths(np.uint64(seed % SEED_MOD), first_path, n_paths,
                                           self.kernel_args(times))
        return {name: IndexPaths(level[n], chi[n], xi[n]) for n, name in enumerate(self.names)}


def lower_factor(cov: np.ndarray) -> np.ndarray:
    """Lower-triangular L with L L^T = cov for a positive semi-definite cov (the kernel reads
    only the lower triangle): numpy's Cholesky factor, or for a singular cov (a factor without
    noise, as a Schwartz index's long factor) Cholesky's recursion with a zero column wherever
    the remaining variance is zero to rounding."""
    cov = np.asarray(cov, dtype=float)
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        pass
    n = cov.shape[0]
    low = np.zeros_like(cov)
    tolerance = 1e-14 * max(float(np.max(np.diag(cov))), 0.0)
    for j in range(n):
        rest = cov[j, j] - low[j, :j] @ low[j, :j]
        if rest > tolerance:
            low[j, j] = np.sqrt(rest)
            low[j + 1:, j] = (cov[j + 1:, j] - low[j + 1:, :j] @ low[j, :j]) / low[j, j]
    return low


def build_indices(spec: Spec) -> MultiIndex:
    """The MultiIndex of a spec's model: its named indices for `multi-index`, one index
    (named "index") for `schwartz` and `schwartz-smith` (with `market.forward_curve`)."""
    model = spec.model
    if model.kind == "multi-index":
        marginals = tuple(marginal_two_factor(model, n, spec.timeline) for n in range(len(model.indices)))
        skus = list(dict.fromkeys(ix.sku or ix.name for ix in model.indices if ix.basis_of is None))
        groups = tuple(-1 if ix.basis_of else skus.index(ix.sku or ix.name) for ix in model.indices)
        corr = model.correlation or np.eye(model.factor_count).tolist()
        return MultiIndex(names=model.names, marginals=marginals, slots=model.slots(),
                          launch_groups=groups, correlation=tuple(tuple(map(float, r)) for r in corr))
    if model.kind not in TWO_FACTOR_KINDS:
        raise SpecError("model.kind", f"got {model.kind!r}; expected multi-index, "
                        f"{' or '.join(TWO_FACTOR_KINDS)}")
    single = with_forward_curve(build_model(model, spec.timeline), spec.market.forward_curve, spec.timeline)
    return MultiIndex.single(single)
