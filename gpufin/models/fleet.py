"""The GPU collateral model (`model.kind = "gpu-fleet"`): arrays for pricing_kernels.fleet.

Monthly dates t_i = i / 12 years (ACT/365F; a loan adds its own dates). Over the period ending at t_i:
  cash_i = hours_i N(t_i) [sum_c on_c share_c rate_c contracted (1 - prepayment_c)
           + sum_c run_c share_c rate_c contracted prepayment_c
           + (1 - sum_c on_c share_c) U_i S_i - opex]
(a contract's prepayment sits in the SPV's prepayment account and is released as the service
is delivered: run_c = 1 while the contract's term runs, whether or not its customer still pays)
with N(t) = min(gpus, gpus (1 + spare_fraction) e^{-failure_rate t}) the billable fleet
(expected survivors: the failures of a fleet of many GPUs diversify), opex = power_kw * pue *
power_price + other_cost (USD per GPU-hour), and on_c = 1 while contract c runs and its
customer (one default time per customer, shared by its contracts) has not defaulted; a defaulted or ended share earns the merchant rate U S.
Collateral value = N(t_i) x value per GPU, by one of
- income: E_t[sum over the GPU's remaining economic life of DF * hours * e^{-failure_rate tau}
  (U_s S_s - opex)], floored at salvage_fraction * capex. Exact up to Gauss-Hermite
  quadrature, because E_t[e^{X_s} g(Y_s)] = E_t[e^{X_s}] E[g(Y_s + Cov_t(X_s, Y_s))] for the
  Gaussian pair (X, Y) = (ln S diffusion, utilization factor) and independent jumps;
- residual: capex * residual(age) * e^{e xi_t} / E_ref[e^{e xi_t}], e = residual_elasticity: the
  appraisal curve moved by the index's long-term level xi (persistent rent changes and
  generation launches), not by short-lived spikes and dips of the spot print; E_ref is the
  expectation with the index starting at the catalog's level (data/gpus.csv), to which the
  appraisal curve refers, so today's rent below that level marks the collateral down;
- book: capex * max(1 - age / depreciation_years, 0).
Discounting: the market curve plus `discount_spread` (continuous).
Credit (docs/collateral.md, section 6): each customer's default time inverts its cumulative
hazard (constant, or piecewise flat: HazardCurve); with a loading on the credit factor Z (the
index's standardized Gaussian shock over the horizon) the names are joined by a Gaussian copula;
the platform defaults the same way and either ends the contracts or has its servicer replaced;
a defaulted customer's share may idle for a re-leasing downtime, then re-contract at the index.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np

from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.market.data import load_market_data, snapshot_market_table
from gpufin.models.index import TwoFactor, launch_times, with_forward_curve
from gpufin.models.keyed import MONTH, keyed_plan
from gpufin.models.multi_index import IndexPaths, MultiIndex
from gpufin.spec.schema import MarketSpec, Spec
from gpufin.spec.times import DAYS_PER_YEAR, Timeline, period_lengths
from pricing_kernels.fleet import INDEX
from pricing_kernels.income import CHI_NODES, TABLE_RTOL, Y_NODES, tabulate
from pricing_kernels.records import FleetArgs, TwoFactorArgs, make

HOURS_PER_YEAR = 24.0 * DAYS_PER_YEAR
GH_NODES = 10                                      # even: the nodes pair up as +-x
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(GH_NODES)
GH_X = np.sqrt(2.0) * _GH_X[GH_NODES // 2:]        # positive nodes of E[f(m + sd Z)], Z ~ N(0, 1)
GH_W = _GH_W[GH_NODES // 2:] / math.sqrt(math.pi)  # weight of each of the pair +-x
VALUATION_CODES = {"income": 0, "residual": 1, "book": 2}
PLATFORM_CODES = {"end-contracts": 1, "replace-servicer": 2}     # 0: no platform default
EXACT_BOX = np.array([1.0, -1.0, 1.0, -1.0])         # empty: the income value by its exact sum
BOX_SD = 5.0              # income_box: half-width in standard deviations of chi and Y at the horizon
BOX_SPIKES = 2.0          # and in chi, this many spikes of 3 standard deviations
NEAR_STEP_YEARS = 0.25


@dataclass(frozen=True)
class HazardCurve:
    """A piecewise-flat default hazard: hazards[k] per year from times[k] to times[k + 1]
    (years; times[0] = 0), the last one flat for ever."""
    times: tuple
    hazards: tuple

    def cumulative(self, t) -> np.ndarray:
        """The cumulative hazard Lambda(t) at times t >= 0 (years)."""
        knots, rates = np.asarray(self.times, dtype=float), np.asarray(self.hazards, dtype=float)
        at_knots = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(knots))])
        k = np.searchsorted(knots, t, side="right") - 1
        return at_knots[k] + rates[k] * (np.asarray(t, dtype=float) - knots[k])


@dataclass(frozen=True)
class Contract:
    customer: str
    customer_index: int          # contracts of one customer share its default time
    share: float
    rate: float
    start: float                 # years
    end: float                   # years
    prepayment: float
    default_hazard: float
    hazard_curve: HazardCurve | None = None     # replaces default_hazard when given

    def curve(self) -> HazardCurve:
        """The customer's hazard curve (a constant default_hazard: one flat segment)."""
        return self.hazard_curve or HazardCurve((0.0,), (self.default_hazard,))


@dataclass(frozen=True)
class Platform:
    """The platform (sponsor and servicer) and what its default does: "end-contracts" (every
    contract ends, with end_probability) or "replace-servicer" (a cost in USD plus months of
    the fleet's revenue, and downtime_years without revenue)."""
    name: str
    curve: HazardCurve
    loading: float
    on_default: str
    end_probability: float
    replacement_cost: float          # USD
    replacement_cost_revenue: float  # months of the fleet's revenue
    downtime_years: float


@dataclass(frozen=True)
class CreditDraws:
    """Where a fleet's credit draws come from when it shares names with other fleets (a loan in
    a book, gpufin.loanbook.joint). Without one, every draw is keyed by the key of the fleet's
    paths, the customers' default times by counters 0, 1, ... in the model's order and the
    platform's by 0, and the credit factor Z is the fleet's own index's shock. Keys are Philox
    keys in [0, 2**64), counters below 2**32 (pricing_kernels.fleet, RNG streams)."""
    credit_key: int                  # default times: streams 200 (customers) and 202 (platform)
    customer_counters: tuple         # per customer, in the model's order: its counter in stream 200
    platform_counter: int            # the platform's counter in stream 202
    fleet_key: int                   # the fleet's own draws (late deliveries)
    factor_key: int                  # the index whose shocks make up Z
    factor_weights: tuple            # (3,): weights of a month's normals (streams 0, 1, 100) in Z
    factor_months: int               # canonical months whose shocks make up Z


@dataclass(frozen=True)
class BasisIndex:
    """A second rental index of the fleet's SKU, `name`: ln B = g_B(t) + c + xi + ell, c an OU
    factor of its own whose shocks have correlation `loading` with the fleet index's short
    shocks and are otherwise independent (so corr(c, xi) = loading x rho and corr(c, Y) =
    loading x util_rho); xi and the launches are the fleet index's. `model` is its law on its
    own (a TwoFactor: each index of gpufin.models.multi_index is exactly two-factor)."""
    name: str
    model: TwoFactor
    loading: float
    level: float                     # its basis level (model.basis_index.basis_level)


@dataclass(frozen=True)
class FleetModel:
    """Everything the fleet kernel needs, in model units (years, USD, GPU-hours)."""
    index: TwoFactor
    gpus: int
    age_years: float
    capex: float
    failure_rate: float
    spare_fraction: float
    opex: float                      # USD per GPU-hour
    util_theta: float                # long-run level of Y = logit(U)
    util_y0: float
    util_vol: float
    util_kappa: float
    util_rho: float                  # correlation of utilization and short-term index shocks
    contracted: float                # billable share of a contracted GPU's hours
    contracts: tuple
    valuation: str
    depreciation_years: float
    economic_life_years: float
    salvage_fraction: float
    residual_elasticity: float
    reference_spot: float            # USD/GPU-hr: the index level the residual curve refers to
    residual_ages: tuple
    residual_fractions: tuple
    discount_spread: float
    deliveries: tuple = ((0.0, 1.0),)    # (time in years, share of the GPUs) of each delivery
    continuation: bool = False           # the kernel also values the SPV as a going concern
    delay_probability: float = 0.0       # each delivery is late with this probability, independently
    delay_years: float = 0.0             # by this long
    sku: str = "H100"                    # the catalog row (data/gpus.csv)
    prepayments: str = "account"         # contract prepayments: "account" (released as the service
                                         # is delivered) or "loan" (paid to the lender; none released)
    credit_factor: str = "long"          # the index factor whose shock is the credit factor Z
    credit_loading: float = 0.0          # the customers' loading on Z
    credit_horizon: float | None = None  # years over which Z is taken (None: to the last date)
    platform: Platform | None = None
    releasing_downtime_years: float = 0.0    # a defaulted customer's share earns nothing this long
    relet_ratio: float = 0.0             # then re-contracted at this x the index (0: merchant)
    draws: CreditDraws | None = None     # the credit draws' keys and counters (None: the paths' key)
    index_name: str = "index"            # what hedges call the fleet's index beside a basis index
    basis: BasisIndex | None = None      # a second index of the SKU (a basis index of the fleet's)
    merchant_on_basis: bool = False      # merchant revenue (and the income value) earns the basis index
    relet_on_basis: bool = False         # re-leasing contracts are struck on the basis index

    @property
    def earned(self) -> TwoFactor:
        """The law of the index the merchant revenue earns."""
        return self.basis.model if self.merchant_on_basis else self.index

    def indices(self) -> MultiIndex:
        """The fleet's indices as a MultiIndex (its factors chi, xi, then the basis' c, with the
        correlations the kernel draws them with), named as hedges name them."""
        if self.basis is None:
            return MultiIndex.single(self.index)
        rho, loading = self.index.rho, self.basis.loading
        correlation = ((1.0, rho, loading), (rho, 1.0, loading * rho), (loading, loading * rho, 1.0))
        return MultiIndex(names=(self.index_name, self.basis.name), marginals=(self.index, self.basis.model),
                          slots=((0, 1), (2, 1)), launch_groups=(0, -1), correlation=correlation)

    def fleet_size(self, t) -> np.ndarray:
        """Billable GPUs at times t (years; an array, or a number for a number) with every
        delivery on time."""
        return self.delivered(np.atleast_1d(t)).sum(axis=0).reshape(np.shape(t))

    def delivered(self, t, delay: float = 0.0) -> np.ndarray:
        """Billable GPUs of each delivery at times t (years), [delivery, time], its GPUs arriving
        `delay` years after their delivery date, with spares replacing failures until they run
        out."""
        t = np.asarray(t, dtype=float)
        parts = np.zeros((len(self.deliveries), t.size))
        for k, (arrival, share) in enumerate(self.deliveries):
            age = np.maximum(t - arrival - delay, 0.0)
            alive = np.minimum(1.0, (1.0 + self.spare_fraction) * np.exp(-self.failure_rate * age))
            parts[k] = self.gpus * share * np.where(t >= arrival + delay - 1e-12, alive, 0.0)
        return parts

    def base_case_cash(self, times: np.ndarray, observe=None) -> np.ndarray:
        """The lender's base case (USD per period ending at each date; 0 at date 0 and at
        observation-only dates): contracted revenue less the opex of the contracted GPUs, with
        every customer paying (prepayments released as the service is delivered, or none with
        prepayments paid to the loan) and no merchant revenue."""
        arrays = self._cash_arrays(times, self.fleet_size(times), observe)
        index = np.arange(times.size)
        cash = np.zeros(times.size)
        for ci, c in enumerate(self.contracts):
            on = (arrays["start"][ci] < index) & (index <= arrays["end"][ci])
            kept = 1.0 - c.prepayment if self.prepayments == "loan" else 1.0
            margin = c.share * (c.rate * self.contracted * kept - self.opex)
            cash[1:] += np.where(on[1:], arrays["hours"] * arrays["fleet"][1:] * margin, 0.0)
        return cash

    def residual_fraction(self, age) -> np.ndarray:
        return np.interp(age, self.residual_ages, self.residual_fractions)

    def book_value(self, t) -> np.ndarray:
        age = self.age_years + np.asarray(t, dtype=float)
        return self.capex * np.maximum(1.0 - age / self.depreciation_years, 0.0)

    @staticmethod
    def monthly_times(horizon_years: float) -> np.ndarray:
        """Monthly dates in years from the valuation date, 0 first: i / 12."""
        months = max(1, int(round(horizon_years * 12)))
        return np.arange(months + 1) / 12.0

    def kernel_args(self, times: np.ndarray, market, observe=None, key: int = 0,
                    first_series: int = INDEX, state: bool = False,
                    parts: bool = False) -> tuple[TwoFactorArgs, FleetArgs]:
        """The records of pricing_kernels.fleet.fleet_paths on the dates `times` (years), of
        which `observe` flags observation-only dates (no cash of their own): the index's and
        the fleet's. `key` is the Philox key of the paths (gpufin.engines.montecarlo.seed_key):
        the key of every draw unless the model's `draws` say otherwise. The kernel writes the
        series from `first_series` on (INDEX: all; CASH: the collateral's alone) and, with
        `state`, the index's state chi and xi after them (ln S = g(t) + chi + xi, g the
        index's TwoFactor.shift), and with `parts` the series that rebuild the cash and value
        under index moves (pricing_kernels.fleet, write_parts)."""
        ix = self.index.kernel_args(times, market)
        contracts = len(self.contracts) if self.continuation else 0
        keyed = self._keyed_arrays(times)
        fa = make(FleetArgs, **keyed,
                  **self._cash_arrays(times, self.fleet_size(times), observe),
                  **self._delivery_arrays(times),
                  **self._value_arrays(times, market),
                  **self._credit_arrays(times, observe, keyed["step_f"], key),
                  split=np.full(times.size, self.valuation_times().size - 1, dtype=np.int64),
                  box=EXACT_BOX, table=np.zeros((times.size, 1 + contracts, CHI_NODES, Y_NODES)),
                  first_series=first_series, write_state=state, write_parts=parts,
                  **self._basis_arrays(times))
        return ix, self._with_income_table(fa)

    def state_paths(self, times, state: list) -> dict[str, IndexPaths]:
        """Each index's IndexPaths on `times` (years) from the fleet kernel's level and state
        rows [path, date] (`state`: level, chi, xi, then with a basis index its c), named as
        `indices` names them."""
        level, chi, xi = state[:3]
        names = self.indices().names
        paths = {names[0]: IndexPaths(level, chi, xi)}
        if self.basis is not None:
            c, xi_b = state[3], xi + self._long_offset()
            paths[names[1]] = IndexPaths(np.exp(self.basis.model.shift(times)[None, :] + c + xi_b), c, xi_b)
        return paths

    def _long_offset(self) -> float:
        """xi_B - xi of the basis index B (its basis level: the fleet kernel carries the
        fleet index's xi)."""
        b = self.basis.model
        return (math.log(b.spot) - b.chi0) - (math.log(self.index.spot) - self.index.chi0)

    def _basis_arrays(self, times) -> dict:
        """The basis index's fields of FleetArgs: its c at 0 and ln B - c - xi per date."""
        b = self.basis
        if b is None:
            return dict(basis=False, basis_c0=0.0, basis_shift=np.zeros(0), merchant_basis=False,
                        relet_basis=False)
        return dict(basis=True, basis_c0=b.model.chi0, basis_shift=b.model.shift(times) + self._long_offset(),
                    merchant_basis=self.merchant_on_basis, relet_basis=self.relet_on_basis)

    def _with_income_table(self, fa: FleetArgs) -> FleetArgs:
        """fa with the income tables of pricing_kernels.income: the months from `near` years
        ahead of each date tabulated on `income_box`, `near` the first of 0 (every month
        tabulated), NEAR_STEP_YEARS, 2 NEAR_STEP_YEARS, ... at which every table reproduces
        the exact sum to TABLE_RTOL; fa as it was (exact everywhere) where none does, or where
        no income value is needed."""
        if self.valuation != "income" and not self.continuation:
            return fa
        box = self.income_box(float(fa.times[-1]))
        months = self.valuation_times()[1:]
        near = 0.0
        while near < months[-1] - fa.times[0]:
            split = np.maximum(np.searchsorted(months, fa.times + near - 1e-9), fa.j0).astype(np.int64)
            table, error = tabulate(fa, box, split)
            if error <= TABLE_RTOL:
                return fa._replace(split=split, box=box, table=table)
            near += NEAR_STEP_YEARS
        return fa

    def income_box(self, horizon_years: float) -> np.ndarray:
        """(chi_lo, chi_hi, y_lo, y_hi): the states where the income table is used: the means
        of chi and Y = logit(U) from their start to their long-run level, widened by BOX_SD of
        their standard deviations over the horizon, and chi by BOX_SPIKES spikes of 3 standard
        deviations each. A path outside it takes the exact sum, so the box sets only the
        speed: a narrower box needs fewer Chebyshev nodes for the same accuracy."""
        ix = self.earned
        spikes = BOX_SPIKES * (abs(ix.spike_mean) + 3.0 * ix.spike_vol) if ix.spike_intensity > 0 else 0.0
        chi = BOX_SD * _ou_sd(ix.sigma_chi, ix.kappa, horizon_years) + spikes
        y = BOX_SD * _ou_sd(self.util_vol, self.util_kappa, horizon_years)
        return np.array([min(ix.chi0, 0.0) - chi, max(ix.chi0, 0.0) + chi,
                         min(self.util_y0, self.util_theta) - y, max(self.util_y0, self.util_theta) + y])

    def _delivery_arrays(self, times) -> dict:
        return dict(delay_probability=self.delay_probability, on_time=self.delivered(times),
                    late=self.delivered(times, self.delay_years))

    def gaussian_law(self, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The exact step over dt years of (chi, xi, Y) without jumps: the diagonal of its
        decay, its mean given a zero start, and its covariance."""
        k, ku = self.index.kappa, self.util_kappa
        sc, sx, su = self.index.sigma_chi, self.index.sigma_xi, self.util_vol
        decay, util_decay = math.exp(-k * dt), math.exp(-ku * dt)
        var_chi = sc ** 2 * (1.0 - decay ** 2) / (2.0 * k)
        cov_chi_xi = self.index.rho * sc * sx * (1.0 - decay) / k
        var_y = su ** 2 * (1.0 - util_decay ** 2) / (2.0 * ku)
        cov_chi_y = self.util_rho * su * sc * (1.0 - math.exp(-(k + ku) * dt)) / (k + ku)
        cov_xi_y = self.util_rho * self.index.rho * su * sx * (1.0 - util_decay) / ku
        cov = np.array([[var_chi, cov_chi_xi, cov_chi_y],
                        [cov_chi_xi, sx ** 2 * dt, cov_xi_y],
                        [cov_chi_y, cov_xi_y, var_y]])
        decays = np.array([decay, 1.0, util_decay])
        means = np.array([0.0, self.index.mu_xi * dt, self.util_theta * (1.0 - util_decay)])
        if self.basis is None:
            return decays, means, cov
        return self._with_basis(dt, decays, means, cov)

    def _with_basis(self, dt: float, decays, means, cov):
        """gaussian_law's (decay, mean, covariance) with the basis factor c as a fourth row."""
        kb, sb, load = self.basis.model.kappa, self.basis.model.sigma_chi, self.basis.loading
        k, ku = self.index.kappa, self.util_kappa
        sc, sx, su = self.index.sigma_chi, self.index.sigma_xi, self.util_vol
        row = [load * sb * sc * -math.expm1(-(kb + k) * dt) / (kb + k),
               load * self.index.rho * sb * sx * -math.expm1(-kb * dt) / kb,
               load * self.util_rho * sb * su * -math.expm1(-(kb + ku) * dt) / (kb + ku),
               sb ** 2 * -math.expm1(-2.0 * kb * dt) / (2.0 * kb)]
        full = np.zeros((4, 4))
        full[:3, :3] = cov
        full[3, :] = full[:, 3] = row
        return np.append(decays, math.exp(-kb * dt)), np.append(means, 0.0), full

    def _keyed_arrays(self, times) -> dict:
        plan = keyed_plan(times, self.gaussian_law)
        k = self.index.kappa
        return dict(y0=self.util_y0, month=plan.month, canonical=plan.canonical, cell=plan.cell,
                    minute=plan.minute, months=plan.months,
                    **dict(zip(("step_a", "step_c", "step_f"), plan.step)),
                    **dict(zip(("level_a", "level_b", "level_c", "level_f"), plan.level)),
                    **dict(zip(("final_a", "final_b", "final_c", "final_f"), plan.final)),
                    spike_decay=np.exp(-k * (times - np.maximum(plan.month, 0) / 12.0)),
                    month_decay=math.exp(-k * MONTH),
                    launch_at=np.sort(np.asarray(self.index.launch_times, dtype=float)))

    @staticmethod
    def period_hours(times, observe=None) -> np.ndarray:
        """Hours of the cash period ending at each date after the first (0 at an
        observation-only date, which has no cash of its own)."""
        return HOURS_PER_YEAR * period_lengths(times, observe)

    def _cash_arrays(self, times, fleet, observe=None) -> dict:
        hours = self.period_hours(times, observe)
        cash_times = times if observe is None else np.where(observe, np.inf, times)
        n = len(self.contracts)
        start = np.zeros(n, dtype=np.int64)
        end = np.zeros(n, dtype=np.int64)
        for ci, c in enumerate(self.contracts):
            start[ci] = _nearest(cash_times, c.start)
            end[ci] = _nearest(cash_times, c.end)
            if c.start > times[-1]:
                start[ci] = end[ci] = times.size     # starts after the last date: never runs here
        rates = [c.share * c.rate * self.contracted for c in self.contracts]
        return dict(times=times, hours=hours, fleet=fleet, opex=self.opex,
                    contracted_cash=np.array([r * (1.0 - c.prepayment) for r, c in zip(rates, self.contracts)],
                                             dtype=float),
                    released_cash=np.array([r * c.prepayment if self.prepayments == "account" else 0.0
                                            for r, c in zip(rates, self.contracts)], dtype=float),
                    share=np.array([c.share for c in self.contracts], dtype=float),
                    start=start, end=end,
                    customer=np.array([c.customer_index for c in self.contracts], dtype=np.int64),
                    hazard=self.customer_hazards())

    def customer_hazards(self) -> np.ndarray:
        """Default hazard per customer (contracts of one customer default together)."""
        hazards = {}
        for c in self.contracts:
            hazards.setdefault(c.customer_index, c.default_hazard)
        return np.array([hazards[k] for k in sorted(hazards)], dtype=float)

    def credit_curves(self) -> list[HazardCurve]:
        """Hazard curve per name: each customer's, then the platform's (if any)."""
        curves = {}
        for c in self.contracts:
            curves.setdefault(c.customer_index, c.curve())
        names = [curves[k] for k in sorted(curves)]
        return names + ([self.platform.curve] if self.platform else [])

    def credit_loadings(self) -> np.ndarray:
        """Loading on the credit factor per name (customers, then the platform)."""
        n = len(self.customer_hazards())
        platform = [self.platform.loading] if self.platform else []
        return np.array([self.credit_loading] * n + platform, dtype=float)

    def _credit_arrays(self, times, observe, step_f, key: int) -> dict:
        """The correlated-credit fields of FleetArgs: the factor's weights over its months,
        the keys and counters of the credit draws, each name's loading and hazard segments,
        the platform's terms, the re-leasing terms."""
        curves = self.credit_curves()
        knots = max([len(c.times) for c in curves], default=1)
        hz_knots = np.full((len(curves), knots), np.inf)
        hz_rates = np.zeros((len(curves), knots))
        hz_cum = np.full((len(curves), knots), np.inf)
        for n, curve in enumerate(curves):
            k = len(curve.times)
            hz_knots[n, :k] = curve.times
            hz_rates[n, :k] = curve.hazards
            hz_cum[n, :k] = curve.cumulative(np.asarray(curve.times, dtype=float)) if k > 1 else 0.0
        loadings = self.credit_loadings()
        months = max(1, math.ceil((self.credit_horizon or float(times[-1])) * 12.0 - 1e-9))
        row = step_f[1 if self.credit_factor == "long" else 0, :3]
        variance = float(row @ row)                 # 0 only without loadings (build_fleet)
        weights = row / math.sqrt(months * variance) if variance > 0.0 else np.zeros(3)
        p = self.platform
        lengths = period_lengths(times, observe)
        return dict(**self._draw_arrays(key, weights, months, len(curves) - (p is not None)),
                    name_loading=loadings,
                    hz_knots=hz_knots, hz_rates=hz_rates, hz_cum=hz_cum,
                    platform=0 if p is None else PLATFORM_CODES[p.on_default],
                    end_probability=p.end_probability if p else 0.0,
                    replacement_usd=p.replacement_cost if p else 0.0,
                    replacement_months=p.replacement_cost_revenue if p else 0.0,
                    platform_downtime=p.downtime_years if p else 0.0,
                    month_hours=HOURS_PER_YEAR * MONTH,
                    period_start=np.concatenate([times[:1], times[1:] - lengths]),
                    releasing_downtime=self.releasing_downtime_years, relet_ratio=self.relet_ratio,
                    contracted=self.contracted)

    def _draw_arrays(self, key: int, weights: np.ndarray, months: int, customers: int) -> dict:
        """The keys, counters and factor terms of FleetArgs: the model's `draws`, or else `key`
        for every draw, counters 0, 1, ... and 0, and the fleet's own factor (weights, months)."""
        d = self.draws
        if d is None:
            d = CreditDraws(key, tuple(range(customers)), 0, key, key, tuple(weights), months)
        elif len(d.customer_counters) != customers:
            raise ValueError(f"{len(d.customer_counters)} customer counters for {customers} customers")
        return dict(factor_weights=np.array(d.factor_weights, dtype=float), factor_months=d.factor_months,
                    factor_key=_key_words(d.factor_key), credit_key=_key_words(d.credit_key),
                    customer_counter=np.array(d.customer_counters, dtype=np.int64),
                    platform_counter=d.platform_counter, fleet_key=_key_words(d.fleet_key))

    def _value_arrays(self, times, market) -> dict:
        tables = self.income_tables(times, market)
        age = self.age_years + times
        reference = replace(self.index, spot=self.reference_spot)
        residual_base = (self.capex * self.residual_fraction(age)
                         * np.exp(-reference.long_factor_log_mgf(times, self.residual_elasticity)))
        return dict(valuation=VALUATION_CODES[self.valuation], **tables,
                    residual_base=residual_base, elasticity=self.residual_elasticity,
                    book=self.book_value(times), continuation=self.continuation,
                    **self._contract_values(times, tables["w"]))

    def _contract_values(self, times, w) -> dict:
        """Per contract and date: the PV per GPU of its contracted cash still to come and the
        weights of the merchant revenue it displaces (its customer's survival from the date,
        in the months of the valuation grid that end within its term; none without
        `continuation`)."""
        s = self.valuation_times()[1:]
        contracts = self.contracts if self.continuation else ()
        weights = np.zeros((len(contracts), times.size, s.size))
        pv = np.zeros((len(contracts), times.size))
        for k, c in enumerate(contracts):
            term = (s > c.start + 1e-9) & (s <= c.end + 1e-9)
            ahead = s[None, :] - times[:, None]
            if c.hazard_curve is None:
                hazard = np.multiply(c.default_hazard, ahead, where=ahead > 0.0, out=np.zeros_like(ahead))
            else:
                lam = c.hazard_curve.cumulative
                hazard = np.where(ahead > 0.0, lam(s)[None, :] - lam(times)[:, None], 0.0)
            weights[k] = np.exp(-hazard) * term      # (a customer in default at once: hazard inf)
            pv[k] = c.share * c.rate * self.contracted * (1.0 - c.prepayment) * (w * weights[k]).sum(axis=1)
        return dict(displaced=weights, contract_pv=pv)

    def valuation_times(self) -> np.ndarray:
        """Months (years) from 0 to the end of the GPUs' economic life (the last one partial)."""
        life_end = max(self.economic_life_years - self.age_years, 0.0)
        monthly = np.arange(0, math.floor(life_end * 12) + 1) / 12.0
        return np.unique(np.append(monthly[monthly < life_end], life_end))

    @property
    def salvage_floor(self) -> float:
        """The income approach's floor: the salvage value per GPU (USD)."""
        return self.salvage_fraction * self.capex

    def discounted_hours(self, times, market) -> np.ndarray:
        """Per date, the hours of the months ahead per GPU, discounted and weighted by the
        GPUs' survival as the income approach weighs them: opex_pv = this x opex (USD per
        GPU-hour)."""
        return self._income_weights(times, market)[0].sum(axis=1)

    def _opex_and_floor(self, w: np.ndarray) -> tuple[np.ndarray, float]:
        return w.sum(axis=1) * self.opex, self.salvage_floor

    def _income_weights(self, times, market) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w, tau, live) [date i, month j]: the weight of month j seen from date i (discount,
        hours still ahead, survival of the GPUs), its years ahead, and whether any of it is."""
        vtimes = self.valuation_times()
        s = vtimes[1:]
        # hours of month j still ahead at date i (a date inside a month counts the rest of it)
        hours = HOURS_PER_YEAR * np.clip(vtimes[None, 1:] - np.maximum(vtimes[None, :-1], times[:, None]),
                                         0.0, None)
        live = hours > 0.0
        tau = np.where(live, s[None, :] - times[:, None], 0.0)
        df = lambda t: market.discount(t) * np.exp(-self.discount_spread * np.asarray(t))
        disc = df(s)[None, :] / df(times)[:, None]
        return np.where(live, disc * hours * np.exp(-self.failure_rate * tau), 0.0), tau, live

    def income_tables(self, times, market) -> dict:
        """Weights and conditional moments of the income-approach sum, per (date i, month j)."""
        ix, k = self.earned, self.earned.kappa
        short_rho = self.util_rho * (self.basis.loading if self.merchant_on_basis else 1.0)
        s = self.valuation_times()[1:]
        w, tau, live = self._income_weights(times, market)
        offset = self._long_offset() if self.merchant_on_basis else 0.0
        log_a = ix.conditional_log_level(times[:, None], s) + offset
        c = np.exp(-k * tau)
        ku, su = self.util_kappa, self.util_vol
        d = np.exp(-ku * tau)
        var = su ** 2 * (1.0 - np.exp(-2.0 * ku * tau)) / (2.0 * ku)
        cov = (short_rho * su * ix.sigma_chi * (1.0 - np.exp(-(k + ku) * tau)) / (k + ku)
               + self.util_rho * self.index.rho * su * self.index.sigma_xi * (1.0 - np.exp(-ku * tau)) / ku)
        j0 = np.array([int(np.argmax(row)) if row.any() else s.size for row in live], dtype=np.int64)
        sd = np.sqrt(var)
        opex_pv, floor = self._opex_and_floor(w)
        return dict(w=w, log_a=log_a, c=c, d=d, util_base=-(self.util_theta * (1.0 - d) + cov),
                    pair_s=2.0 * np.cosh(sd[:, :, None] * GH_X), pair_w=GH_W, j0=j0,
                    opex_pv=opex_pv, floor=floor)


def _ou_sd(vol: float, kappa: float, horizon_years: float) -> float:
    """Standard deviation after horizon_years of an OU process with this vol and mean
    reversion, from a known start."""
    if kappa * horizon_years < 1e-12:
        return vol * math.sqrt(horizon_years)
    return vol * math.sqrt(-math.expm1(-2.0 * kappa * horizon_years) / (2.0 * kappa))


def _key_words(key: int) -> np.ndarray:
    """The two 32-bit Philox key words (low, high) of a key in [0, 2**64), as uint64."""
    key = int(key)
    return np.array([key & 0xFFFFFFFF, key >> 32], dtype=np.uint64)


def _nearest(times: np.ndarray, t: float) -> int:
    return int(np.argmin(np.abs(times - t)))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def build_fleet(spec, timeline: Timeline) -> FleetModel:
    """The FleetModel of a validated `gpu-fleet` model table (catalog defaults from data/),
    its times from the spec's timeline."""
    data = load_market_data()
    gpu = data.gpu(spec.sku)
    ix, util, costs = spec.index, spec.utilization, spec.costs
    index = TwoFactor(spot=ix.spot or gpu["index_spot_usd_per_gpu_hour"], kappa=ix.mean_reversion,
                      sigma_chi=ix.short_vol, sigma_xi=ix.long_vol, rho=ix.correlation,
                      mu_xi=ix.long_drift, chi0=ix.short_factor,
                      launch_intensity=ix.launch_intensity, launch_mean=ix.launch_jump_mean,
                      launch_vol=ix.launch_jump_vol,
                      launch_times=launch_times(timeline, "model.index.launch_dates", ix.launch_dates),
                      spike_intensity=ix.spike_intensity, spike_mean=ix.spike_jump_mean,
                      spike_vol=ix.spike_jump_vol)
    names = list(dict.fromkeys(c.customer or f"customer {i}" for i, c in enumerate(spec.contracts)))
    contracts = tuple(_contract(i, c, timeline, names) for i, c in enumerate(spec.contracts))
    _check_shares(contracts)
    _check_hazards(contracts)
    credit, releasing = spec.credit, spec.releasing
    _check_factor(spec)
    ages, fractions = data.residual_curve()
    power_kw = costs.power_kw or gpu["power_kw"]
    power_price = (costs.power_price if costs.power_price is not None
                   else data.snapshot["power_price_usd_per_kwh"])
    return FleetModel(
        index=index, gpus=spec.gpus, age_years=spec.age_years, capex=spec.capex or gpu["capex_usd"],
        failure_rate=spec.failure_rate, spare_fraction=spec.spare_fraction,
        opex=power_kw * costs.pue * power_price + costs.other_cost,
        util_theta=_logit(util.level), util_y0=_logit(util.start or util.level),
        util_vol=util.vol, util_kappa=util.mean_reversion, util_rho=util.correlation,
        contracted=util.contracted, contracts=contracts, valuation=spec.valuation,
        depreciation_years=float(spec.depreciation_years),
        economic_life_years=spec.economic_life_years, salvage_fraction=spec.salvage_fraction,
        residual_elasticity=spec.residual_elasticity, reference_spot=gpu["index_spot_usd_per_gpu_hour"],
        residual_ages=tuple(ages),
        residual_fractions=tuple(fractions), discount_spread=spec.discount_spread, sku=spec.sku,
        credit_factor=credit.factor, credit_loading=credit.loading, credit_horizon=credit.horizon,
        platform=_platform(spec.platform),
        releasing_downtime_years=releasing.downtime_months * MONTH,
        relet_ratio=releasing.contract_spot_ratio if releasing.rate == "contract-index" else 0.0,
        index_name=ix.name, basis=_basis(spec, index),
        merchant_on_basis=_on_basis(spec, "model.merchant_index", spec.merchant_index),
        relet_on_basis=_on_basis(spec, "model.releasing.index", releasing.index))


def _basis(spec, index: TwoFactor) -> BasisIndex | None:
    """The fleet's basis index (model.basis_index) on the fleet's `index`, or None."""
    b = spec.basis_index
    if b is None:
        return None
    if b.name == spec.index.name:
        raise SpecError("model.basis_index.name", f"got {b.name!r}, the fleet index's name; expected another")
    chi0 = index.chi0 + math.log(b.spot / index.spot) - b.basis_level
    model = replace(index, spot=b.spot, kappa=b.mean_reversion, sigma_chi=b.short_vol,
                    rho=b.correlation * index.rho, chi0=chi0, spike_intensity=0.0, spike_mean=0.0,
                    spike_vol=0.0, forward_times=(), forward_prices=())
    return BasisIndex(b.name, model, b.correlation, b.basis_level)


def _on_basis(spec, key: str, name: str | None) -> bool:
    """Whether the index `name` (spec key `key`; None: the fleet's own) is the basis index."""
    names = [spec.index.name] + ([spec.basis_index.name] if spec.basis_index else [])
    if name is not None and name not in names:
        raise SpecError(key, f"got {name!r}; expected one of {', '.join(names)}")
    if key == "model.releasing.index" and name is not None and spec.releasing.rate != "contract-index":
        raise SpecError(key, f"got {name!r} with releasing.rate = {spec.releasing.rate!r}; expected "
                             "rate = 'contract-index', whose contracts are struck on an index")
    return spec.basis_index is not None and name == spec.basis_index.name


def _contract(i, c, timeline: Timeline, names) -> Contract:
    key = f"model.contracts[{i}]"
    start, end = timeline.years(f"{key}.start"), timeline.years(f"{key}.end")
    if end <= start:
        raise SpecError(f"{key}.end", f"got {c.end!r}; expected an end after the start ({c.start!r})")
    name = c.customer or f"customer {i}"
    return Contract(name, names.index(name), c.share, c.rate, start, end, c.prepayment, c.default_hazard,
                    _hazard_curve(key, c.hazard_curve, c.default_hazard))


def _hazard_curve(key: str, curve, default_hazard: float) -> HazardCurve | None:
    """The HazardCurve of a hazard_curve table (None without one, or with default_hazard = inf,
    a default at once, as the anchor-default stress sets it)."""
    if curve is None or default_hazard == math.inf:
        return None
    if default_hazard != 0.0:
        raise SpecError(f"{key}.hazard_curve", f"given with default_hazard = {default_hazard!r}; "
                                               "expected one of the two")
    if len(curve.hazards) != len(curve.times):
        raise SpecError(f"{key}.hazard_curve.hazards", f"got {len(curve.hazards)} hazards for "
                                                       f"{len(curve.times)} times; expected one per time")
    if curve.times[0] != 0.0 or any(b <= a for a, b in zip(curve.times, curve.times[1:])):
        raise SpecError(f"{key}.hazard_curve.times", f"got {list(curve.times)!r}; expected strictly "
                                                     "increasing times in years, the first 0")
    return HazardCurve(tuple(curve.times), tuple(curve.hazards))


def _check_factor(spec):
    """A loading needs a factor with a shock: the index's long_vol ("long") or short_vol ("short")."""
    vol = "long_vol" if spec.credit.factor == "long" else "short_vol"
    loaded = spec.credit.loading != 0.0 or (spec.platform is not None and spec.platform.loading != 0.0)
    if loaded and getattr(spec.index, vol) == 0.0:
        raise SpecError("model.credit.factor", f"got {spec.credit.factor!r}, whose model.index.{vol} is 0: "
                                               "no shock to load defaults on; expected the other factor or loadings of 0")


def _platform(spec) -> Platform | None:
    """The Platform of a model.platform table (None without one)."""
    if spec is None:
        return None
    curve = (_hazard_curve("model.platform", spec.hazard_curve, spec.default_hazard)
             or HazardCurve((0.0,), (spec.default_hazard,)))
    return Platform(spec.name, curve, spec.loading, spec.on_default, spec.end_probability,
                    spec.replacement_cost, spec.replacement_cost_revenue, spec.downtime_months * MONTH)


def _check_hazards(contracts):
    for c in contracts:
        first = next(d for d in contracts if d.customer_index == c.customer_index)
        if c.curve() != first.curve():
            raise SpecError("model.contracts", f"customer {c.customer!r} has two default hazards; "
                                               "contracts of one customer share one")


def _check_shares(contracts):
    for t in sorted({c.start for c in contracts}):
        total = sum(c.share for c in contracts if c.start <= t < c.end)
        if total > 1.0 + 1e-12:
            raise SpecError("model.contracts", f"shares add up to {total:g} at {t:g} years; expected at most 1")


@dataclass(frozen=True)
class FleetSetup:
    """A fleet model, its market, its dates (years from the valuation date) and the timeline
    of its spec in that market."""
    model: FleetModel
    market: object
    times: np.ndarray
    timeline: Timeline

    @property
    def dates(self) -> list[dt.date]:
        """The calendar day of each date (the valuation date, or 2026-01-01 without one, plus
        the time rounded to a whole day)."""
        return [self.market.anchor + dt.timedelta(days=round(t * DAYS_PER_YEAR)) for t in self.times]


def fleet_market(s: Spec):
    """The discount market of a gpu-fleet spec, as fleet_setup builds it."""
    s = _in_fleet_market(s)
    return build_market(s.market, s.model.rate, s.timeline)


def _in_fleet_market(s: Spec) -> Spec:
    """The spec in the shipped snapshot's market when it has no curve and no model.rate."""
    if s.market.curve is not None or s.model.rate is not None:
        return s
    snap = snapshot_market_table()
    return s.with_market(MarketSpec(valuation_date=s.market.valuation_date or snap["valuation_date"],
                                    curve=snap["curve"], forward_curve=s.market.forward_curve))


def fleet_setup(s: Spec) -> FleetSetup:
    """The fleet model of a spec on monthly dates to `mc.horizon`; without a curve or
    model.rate, the market is the shipped snapshot's (data/market.toml)."""
    if s.model.kind != "gpu-fleet":
        raise SpecError("model.kind", f"got {s.model.kind!r}; expected a gpu-fleet model")
    s = _in_fleet_market(s)
    market = build_market(s.market, s.model.rate, s.timeline)
    model = build_fleet(s.model, s.timeline)
    if s.market.forward_curve:
        model = replace(model, index=with_forward_curve(model.index, s.market.forward_curve, s.timeline))
    return FleetSetup(model, market, model.monthly_times(s.mc.horizon), s.timeline)
