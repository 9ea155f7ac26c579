"""The spec schema: tables `model`, `instrument`, `mc` and `market`, each a frozen pydantic
model whose fields carry their unit and range. Units and meanings of every key: docs/spec.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Union

import math

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr

from gpufin.errors import SpecError
from gpufin.spec.times import Timeline, TimeKey, parse_date, resolve_timeline


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


Number = Annotated[float, AfterValidator(_finite)]      # nan and inf refused by name
Time = Annotated[Union[float, str], TimeKey]   # years, an ISO date or a tenor (gpufin.spec.times)
NonNeg = Annotated[Number, Field(ge=0)]
Positive = Annotated[Number, Field(gt=0)]
Hazard = Annotated[float, Field(ge=0)]       # per year; inf: defaults at once (a stress)
MAX_VOL = 10.0                                 # per sqrt(year): 1,000%, far beyond any market
Vol = Annotated[Number, Field(ge=0, le=MAX_VOL)]


class _Table(BaseModel):
    """Strict: a number must be a number (no bool, no string), an integer an integer."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# ---- models -------------------------------------------------------------------------------

class GBMSpec(_Table):
    kind: Literal["gbm"]
    spot: Positive
    vol: Vol
    rate: Number | None = None
    dividend: Number = 0.0


class JumpDiffusionSpec(GBMSpec):
    kind: Literal["jump-diffusion"]
    jump_intensity: NonNeg
    jump_mean: Number
    jump_vol: Vol


class SchwartzSpec(_Table):
    kind: Literal["schwartz"]
    spot: Positive
    vol: Vol
    mean_reversion: Positive
    long_run_level: Positive
    rate: Number | None = None


class SchwartzSmithSpec(_Table):
    kind: Literal["schwartz-smith"]
    spot: Positive
    mean_reversion: Positive
    short_vol: Vol
    long_vol: Vol
    correlation: Annotated[Number, Field(ge=-1, le=1)] = 0.0
    long_drift: Number = 0.0
    short_factor: Number = 0.0
    launch_intensity: NonNeg = 0.0
    launch_jump_mean: Number = 0.0
    launch_jump_vol: Vol = 0.0
    launch_dates: list[Time] = []
    spike_intensity: NonNeg = 0.0
    spike_jump_mean: Number = 0.0
    spike_jump_vol: Vol = 0.0
    rate: Number | None = None


Fraction = Annotated[Number, Field(gt=0, lt=1)]


class FleetIndexSpec(_Table):
    """The fleet's rental index (Schwartz-Smith); H100 defaults: data/SOURCES.md section 3.
    `name` is what hedges and `merchant_index` call it."""
    name: Annotated[str, Field(min_length=1)] = "index"
    spot: Positive | None = None
    mean_reversion: Positive = 2.0
    short_vol: Vol = 0.45
    long_vol: Vol = 0.20
    correlation: Annotated[Number, Field(ge=-1, le=1)] = 0.0
    long_drift: Number = -0.13
    short_factor: Number = 0.0
    launch_intensity: NonNeg = 1.0
    launch_jump_mean: Number = -0.16
    launch_jump_vol: Vol = 0.10
    launch_dates: list[Time] = []
    spike_intensity: NonNeg = 0.5
    spike_jump_mean: Number = 0.18
    spike_jump_vol: Vol = 0.10


class UtilizationSpec(_Table):
    """Merchant utilization U = logistic(Y), Y an OU process; data/SOURCES.md section 4."""
    level: Fraction = 0.70
    start: Fraction | None = None
    vol: Vol = 1.4
    mean_reversion: Positive = 2.0
    correlation: Annotated[Number, Field(ge=-1, le=1)] = 0.3
    contracted: Annotated[Number, Field(gt=0, le=1)] = 0.95


class CostsSpec(_Table):
    """Cash opex per GPU-hour = power_kw * pue * power_price + other_cost;
    defaults: data/SOURCES.md section 5.
    power_price (USD/kWh) defaults to the shipped snapshot's (data/market.toml)."""
    power_kw: Positive | None = None
    pue: Annotated[Number, Field(ge=1)] = 1.25
    power_price: NonNeg | None = None
    other_cost: NonNeg = 0.40


class HazardCurveSpec(_Table):
    """A piecewise-flat default hazard: hazards[k] per year from times[k] to times[k + 1]
    (years from the valuation date), the last one flat for ever; times start at 0 and rise."""
    times: list[NonNeg] = Field(min_length=1)
    hazards: list[NonNeg] = Field(min_length=1)


Loading = Annotated[Number, Field(ge=-1, le=1)]


class ContractSpec(_Table):
    """A take-or-pay contract on a share of the fleet at a fixed rate (USD per GPU-hour); its
    customer defaults at `default_hazard` per year, or along `hazard_curve`."""
    customer: str = ""
    share: Annotated[Number, Field(gt=0, le=1)]
    rate: NonNeg
    start: Time = 0.0
    end: Time
    prepayment: Annotated[Number, Field(ge=0, lt=1)] = 0.0
    default_hazard: Hazard = 0.0
    hazard_curve: HazardCurveSpec | None = None


class FleetCreditSpec(_Table):
    """The systematic credit factor (docs/collateral.md, section 6): Z, the
    standardized Gaussian shock of the index's `factor` ("long": xi, "short": chi) over
    `horizon` years (default: to the last date), loads each customer's default with
    `loading` (positive: defaults rise when rents fall)."""
    factor: Literal["long", "short"] = "long"
    loading: Loading = 0.0
    horizon: Positive | None = None


class PlatformSpec(_Table):
    """The platform (sponsor and servicer): its default hazard (per year) or hazard curve,
    its loading on the credit factor, and what its default does: "end-contracts" (every
    contract ends, with `end_probability`) or "replace-servicer" (a cost of
    `replacement_cost` USD plus `replacement_cost_revenue` months of the fleet's revenue,
    and `downtime_months` without revenue)."""
    name: str = "platform"
    default_hazard: Hazard = 0.0
    hazard_curve: HazardCurveSpec | None = None
    loading: Loading = 0.0
    on_default: Literal["end-contracts", "replace-servicer"] = "end-contracts"
    end_probability: Annotated[Number, Field(ge=0, le=1)] = 1.0
    replacement_cost: NonNeg = 0.0
    replacement_cost_revenue: NonNeg = 0.0
    downtime_months: NonNeg = 0.0


class ReleasingSpec(_Table):
    """Re-leasing a defaulted customer's share: `downtime_months` without revenue, then the
    merchant market ("merchant") or a new contract to the end of the old one at
    `contract_spot_ratio` x the index `index` of that date ("contract-index"; default the
    fleet's own index)."""
    downtime_months: NonNeg = 0.0
    rate: Literal["merchant", "contract-index"] = "merchant"
    contract_spot_ratio: Positive = 1.10
    index: str | None = None


class FleetBasisSpec(_Table):
    """A second rental index of the fleet's SKU, a basis index of the fleet's own
    (docs/collateral.md): ln B = g_B + c + xi + basis_level, its own short factor c (OU,
    `mean_reversion`, `short_vol`, no spikes) on the fleet index's long factor xi and
    launches; `correlation` is that of c's shocks with the fleet index's short shocks."""
    name: Annotated[str, Field(min_length=1)]
    spot: Positive
    mean_reversion: Positive
    short_vol: Vol
    basis_level: Number = 0.0
    correlation: Annotated[Number, Field(ge=-1, le=1)] = 0.0


class GpuFleetSpec(_Table):
    kind: Literal["gpu-fleet"]
    sku: str = "H100"
    gpus: Annotated[int, Field(ge=1)]
    age_years: NonNeg = 0.0
    capex: Positive | None = None
    failure_rate: NonNeg = 0.04
    spare_fraction: NonNeg = 0.0
    valuation: Literal["income", "residual", "book"] = "income"
    depreciation_years: Literal[4, 5, 6] = 6
    economic_life_years: Positive = 6.0
    salvage_fraction: Annotated[Number, Field(ge=0, le=1)] = 0.05
    residual_elasticity: NonNeg = 1.0
    discount_spread: Number = 0.0
    rate: Number | None = None
    index: FleetIndexSpec = FleetIndexSpec()
    utilization: UtilizationSpec = UtilizationSpec()
    costs: CostsSpec = CostsSpec()
    contracts: list[ContractSpec] = []
    credit: FleetCreditSpec = FleetCreditSpec()
    platform: PlatformSpec | None = None
    releasing: ReleasingSpec = ReleasingSpec()
    basis_index: FleetBasisSpec | None = None
    merchant_index: str | None = None


class IndexSpec(_Table):
    """One index of a multi-index model: a Schwartz-Smith index, or (`basis_of`) another
    index's long-term factor plus a short factor of its own (docs/spec.md, `multi-index`)."""
    name: Annotated[str, Field(min_length=1)]
    spot: Positive
    mean_reversion: Positive
    short_vol: Vol
    basis_of: str | None = None
    basis_level: Number = 0.0
    sku: str | None = None
    long_vol: Vol = 0.0
    long_drift: Number = 0.0
    short_factor: Number = 0.0
    launch_intensity: NonNeg = 0.0
    launch_jump_mean: Number = 0.0
    launch_jump_vol: Vol = 0.0
    launch_dates: list[Time] = []
    spike_intensity: NonNeg = 0.0
    spike_jump_mean: Number = 0.0
    spike_jump_vol: Vol = 0.0
    forward_curve: list[ForwardPoint] = []


BASE_ONLY = ("sku", "long_vol", "long_drift", "short_factor", "launch_intensity", "launch_jump_mean",
             "launch_jump_vol", "launch_dates")      # a basis index takes these from its base
CORRELATION_TOLERANCE = 1e-10                        # rounding allowed in symmetry and eigenvalues


class MultiIndexSpec(_Table):
    """Several correlated indices (docs/spec.md, `multi-index`). Factors, in the order of
    `correlation`: each index's short factor, then its long factor unless it is a basis
    index (which shares its base's)."""
    kind: Literal["multi-index"]
    indices: list[IndexSpec] = Field(min_length=2)
    correlation: list[list[Number]] | None = None
    rate: Number | None = None
    _priced: str | None = PrivateAttr(default=None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(ix.name for ix in self.indices)

    @property
    def priced(self) -> int:
        """Position of the index the instrument settles on (the first without an instrument)."""
        return self.names.index(self._priced) if self._priced is not None else 0

    @property
    def spot(self) -> float:
        """Today's level of the priced index, USD/GPU-hr."""
        return self.indices[self.priced].spot

    def slots(self) -> tuple[tuple[int, int], ...]:
        """(short, long) factor of each index, as rows and columns of `correlation`."""
        owned, n = {}, 0
        for ix in self.indices:
            owned[ix.name] = (n, n + 1) if ix.basis_of is None else (n, None)
            n += 1 if ix.basis_of else 2
        return tuple((owned[ix.name][0], owned[ix.basis_of or ix.name][1]) for ix in self.indices)

    @property
    def factor_count(self) -> int:
        return sum(1 if ix.basis_of else 2 for ix in self.indices)

    def checked(self, instrument, forward_curve) -> MultiIndexSpec:
        """This table once its cross-key rules hold, priced on `instrument.index`."""
        names = self.names
        for i, ix in enumerate(self.indices):
            key = f"model.indices[{i}]"
            if ix.name in names[:i]:
                raise SpecError(f"{key}.name", f"got {ix.name!r} twice; expected distinct names")
            if ix.basis_of is None:
                if "basis_level" in ix.model_fields_set:
                    raise SpecError(f"{key}.basis_level", "only an index with basis_of has a basis level")
                continue
            base = next((b for b in self.indices if b.name == ix.basis_of), None)
            if base is None or base is ix or base.basis_of is not None:
                raise SpecError(f"{key}.basis_of", f"got {ix.basis_of!r}; expected the name of another "
                                f"index that is not itself a basis index ({', '.join(names)})")
            for field in BASE_ONLY:
                if field in ix.model_fields_set:
                    raise SpecError(f"{key}.{field}", f"a basis index takes it from {ix.basis_of!r}; "
                                    "expected it on that index")
        self._check_launches()
        self._check_correlation()
        if forward_curve:
            raise SpecError("market.forward_curve", "a multi-index model takes each index's curve "
                            "in model.indices[i].forward_curve")
        copy = self.model_copy()
        if instrument is not None:
            copy._priced = _settled_index(instrument, names, required=True)
        return copy

    def _check_launches(self):
        """Indices of one SKU share their launches: the same intensity and dates."""
        first = {}
        for i, ix in enumerate(self.indices):
            if ix.basis_of is not None:
                continue
            sku = ix.sku or ix.name
            other = first.setdefault(sku, ix)
            for field in ("launch_intensity", "launch_dates"):
                if getattr(ix, field) != getattr(other, field):
                    raise SpecError(f"model.indices[{i}].{field}", f"got {getattr(ix, field)!r}; expected "
                                    f"{getattr(other, field)!r} as on {other.name!r}, of the same SKU {sku!r}")

    def _check_correlation(self):
        """Square over the factors, symmetric, unit diagonal, in [-1, 1], positive semi-definite."""
        if self.correlation is None:
            return
        n = self.factor_count
        matrix = np.array(self.correlation, dtype=float) if all(len(r) == n for r in self.correlation) else None
        if matrix is None or matrix.shape != (n, n):
            raise SpecError("model.correlation", f"got a {len(self.correlation)}-row matrix; expected {n} "
                            f"rows of {n} (one per factor: docs/spec.md)")
        problem = None
        if np.abs(matrix - matrix.T).max() > CORRELATION_TOLERANCE:
            problem = "not symmetric"
        elif np.abs(np.diag(matrix) - 1.0).max() > CORRELATION_TOLERANCE:
            problem = "a diagonal entry other than 1"
        elif np.abs(matrix).max() > 1.0:
            problem = "an entry outside [-1, 1]"
        else:
            lowest = np.linalg.eigvalsh(0.5 * (matrix + matrix.T)).min()
            if lowest < -CORRELATION_TOLERANCE:
                problem = f"not positive semi-definite (smallest eigenvalue {lowest:.3g})"
        if problem:
            raise SpecError("model.correlation", f"{problem}; expected a correlation matrix")


def _settled_index(instrument, names: tuple, required: bool) -> str | None:
    """The instrument's `index`, checked against the model's index names."""
    if required and "index" not in type(instrument).model_fields:
        raise SpecError("instrument.kind", f"got {instrument.kind!r}; a multi-index model prices "
                        "derivatives on one of its indices (instrument.index)")
    name = getattr(instrument, "index", None)
    if name is None and required:
        raise SpecError("instrument.index", f"missing; expected one of {', '.join(names)}")
    if name is not None and name not in names:
        raise SpecError("instrument.index", f"got {name!r}; expected one of {', '.join(names)}")
    return name


SINGLE_INDEX = ("index",)       # the name of a single-index model's one index


MODEL_SPECS = {"gbm": GBMSpec, "jump-diffusion": JumpDiffusionSpec, "schwartz": SchwartzSpec,
               "schwartz-smith": SchwartzSmithSpec, "gpu-fleet": GpuFleetSpec,
               "multi-index": MultiIndexSpec}

# ---- instruments --------------------------------------------------------------------------

Option = Literal["call", "put"]


class _InstrumentBase(_Table):
    notional: Positive = 1.0
    index: str | None = None              # the model's index it settles on (multi-index models)


class EuropeanSpec(_InstrumentBase):
    kind: Literal["european"]
    option: Option
    strike: NonNeg
    maturity: Time


class AsianSpec(_InstrumentBase):
    kind: Literal["asian"]
    option: Option
    strike: NonNeg
    maturity: Time
    averaging: Literal["arithmetic", "geometric"] = "arithmetic"
    fixing_times: list[Time] | None = None
    fixings: Annotated[int, Field(ge=1)] | None = None
    past_fixings: Annotated[int, Field(ge=0)] = 0
    past_average: Positive | None = None


class BarrierSpec(_InstrumentBase):
    kind: Literal["barrier"]
    option: Option
    strike: NonNeg
    maturity: Time
    barrier: Positive
    barrier_type: Literal["down-and-out", "down-and-in", "up-and-out", "up-and-in"]
    rebate: NonNeg = 0.0
    monitoring: Literal["continuous"] | list[Time] = "continuous"


class FutureSpec(_InstrumentBase):
    kind: Literal["future"]
    maturity: Time | None = None
    delivery_month: str | None = None
    window_days: Annotated[int, Field(ge=1)] = 30
    strike: NonNeg = 0.0
    style: Literal["futures", "forward"] = "futures"
    past_fixings: Annotated[int, Field(ge=0)] = 0
    past_average: Positive | None = None


class _StripSpec(_InstrumentBase):
    start: Time = 0.0
    maturity: Time
    period_months: Annotated[int, Field(ge=1)] = 1
    prints: Literal["daily", "end"] = "daily"


class SwapSpec(_StripSpec):
    kind: Literal["swap"]
    fixed_rate: NonNeg
    position: Literal["payer", "receiver"] = "payer"


class CapSpec(_StripSpec):
    kind: Literal["cap"]
    strike: NonNeg


class FloorSpec(_StripSpec):
    kind: Literal["floor"]
    strike: NonNeg


class FutureOptionSpec(_InstrumentBase):
    """A European option on a monthly-average future, settled at `expiry` on the future's
    price then: pays notional (GPU-hours) x max(omega (F(expiry) - strike), 0), strike in
    USD/GPU-hr. The future's window: `delivery_month`, or the `window_days` days to `maturity`,
    all of it after the expiry."""
    kind: Literal["future-option"]
    option: Option
    strike: NonNeg
    expiry: Time
    maturity: Time | None = None
    delivery_month: str | None = None
    window_days: Annotated[int, Field(ge=1)] = 30


class ResidualPutSpec(_InstrumentBase):
    """A residual-value put: pays notional (GPUs) x max(strike - P_T, 0) at `maturity`, P_T the
    used-GPU value (USD per GPU) = residual_value x e^{elasticity L_T} / E[e^{elasticity L_T}],
    L the index's long-term factor (xi; ln S for GBM and Merton): E[P_T] = residual_value."""
    kind: Literal["residual-put"]
    strike: NonNeg
    maturity: Time
    residual_value: Positive
    elasticity: NonNeg = 1.0


class DrawSpec(_Table):
    time: Time | None = None
    date: Time | None = None
    amount: Positive
    delivery: Time | None = None


class DeliveryDelaySpec(_Table):
    """Each draw's GPUs arrive late with `probability`, by `length` years, independently per draw."""
    probability: Annotated[Number, Field(ge=0, le=1)]
    length: Positive


class ScheduleEntrySpec(_Table):
    """One payment of a fixed principal schedule (as `gpufin price --format json` writes it)."""
    time: Time | None = None
    date: Time | None = None
    principal: NonNeg


HaircutPoint = Annotated[list[Number], Field(min_length=2, max_length=2)]   # [share sold at once, haircut]


class LoanSpec(_Table):
    """A GPU-backed term loan (docs/loans.md): keys other tools write must keep their meaning."""
    kind: Literal["loan"]
    principal: Positive | None = None
    draws: list[DrawSpec] = []
    commitment: Positive | None = None
    maturity: Time | None = None
    maturity_from_draw: Positive | None = None      # years from each draw to its tranche's maturity
    coupon: NonNeg | None = None
    spread: Number | None = None
    floor: Number = 0.0
    amortization: Literal["bullet", "linear", "annuity", "sculpted", "sweep"] = "bullet"
    payment_frequency: str = "3M"
    commitment_fee: NonNeg = 0.0
    target_dscr: Positive = 1.30
    sweep_share: Annotated[Number, Field(ge=0, le=1)] | None = None
    reserve_periods: NonNeg = 0.0
    ltv_trigger: Positive | None = None
    ltv_test: Literal["payment", "monthly", "continuous"] | list[Time] = "payment"
    dscr_trigger: Positive | None = None
    dscr_basis: Literal["period", "ttm"] = "period"
    lockup_dscr: Positive | None = None
    lockup_sweep_share: Annotated[Number, Field(ge=0, le=1)] = 1.0
    default_on: Literal["payment", "payment-or-covenant"] = "payment"
    acceleration: Literal["never", "always", "lender-optimal"] = "always"
    recovery: Literal["best-of", "liquidation"] = "best-of"
    delivery_delay: DeliveryDelaySpec | None = None
    schedule: list[ScheduleEntrySpec] | None = None
    liquidation_haircut: Annotated[Number, Field(ge=0, lt=1)] = 0.15
    liquidation_lag: NonNeg = 0.5
    liquidation_tranches: Annotated[int, Field(ge=1)] = 1
    haircut_curve: list[HaircutPoint] | None = None
    workout_cost: Annotated[Number, Field(ge=0, lt=1)] = 0.0
    prepayments: Literal["account", "loan"] = "account"
    rating: str | None = None                       # the loan's agency rating (Moody's scale), if rated


INSTRUMENT_SPECS = {"european": EuropeanSpec, "asian": AsianSpec, "barrier": BarrierSpec,
                    "future": FutureSpec, "swap": SwapSpec, "cap": CapSpec, "floor": FloorSpec,
                    "loan": LoanSpec, "future-option": FutureOptionSpec, "residual-put": ResidualPutSpec}

# ---- numerics and market --------------------------------------------------------------------


MAX_PATHS = 100_000_000
MAX_STEPS_PER_YEAR = 8760               # hourly
MAX_HORIZON_YEARS = 100.0


class MCSpec(_Table):
    paths: Annotated[int, Field(ge=2, le=MAX_PATHS)] = 100_000
    seed: int = 1
    steps_per_year: Annotated[int, Field(ge=0, le=MAX_STEPS_PER_YEAR)] | None = None
    antithetic: bool = True
    control_variate: bool = True
    method: Literal["auto", "mc", "analytic"] = "auto"
    horizon: Annotated[Number, Field(gt=0, le=MAX_HORIZON_YEARS)] = 5.0
    chunk_paths: Annotated[int, Field(ge=1)] | None = None


class CurveSpec(_Table):
    kind: Literal["flat", "zero", "sofr"]
    rate: Number | None = None
    tenors: list[Time] = []
    rates: list[Number] = []
    deposits: list[dict] = []
    ois: list[dict] = []


class ForwardPoint(_Table):
    time: Time
    price: Positive


class CdsQuoteSpec(_Table):
    tenor_years: Positive           # whole months, in years
    spread_bp: Positive             # running spread, bp a year


class CreditNameSpec(_Table):
    """An obligor's credit: CDS quotes (ISDA standard contracts), else a Moody's-scale rating
    read on data/ratings/spread_curve.csv; recovery a fraction of par."""
    name: str
    rating: str | None = None
    cds: list[CdsQuoteSpec] = []
    recovery: Annotated[Number, Field(ge=0, lt=1)] = 0.4


class DealCreditSpec(_Table):
    """A deal's credit inputs (`deal`: a file name of data/deals/ without .toml): its anchor
    customer and platform (names of `names`), the lender's recovery on the loan (fraction of
    par) and the observed spread (bp a year)."""
    deal: str
    anchor: str | None = None
    platform: str
    loan_recovery: Annotated[Number, Field(ge=0, lt=1)]
    observed_spread_bp: NonNeg


class CreditSpec(_Table):
    names: list[CreditNameSpec] = []
    deals: list[DealCreditSpec] = []


class RiskSpec(_Table):
    """Moves of `gpufin portfolio var` that no index model defines: the correlation of the
    index moves of different SKUs, and the normal volatility of a parallel rate shift
    (decimal a year: 0.01 is 100 bp a year)."""
    index_correlation: Annotated[Number, Field(gt=-1, le=1)]
    rate_vol: NonNeg


class MarketSpec(_Table):
    valuation_date: str | None = None
    curve: CurveSpec | None = None
    forward_curve: list[ForwardPoint] = []
    credit: CreditSpec | None = None
    risk: RiskSpec | None = None
    loan_price: Positive = 100.0                    # a loan's market price, percent of par (discount margin)
    observed_spread_bp: NonNeg | None = None        # the spread a loan trades at, bp a year over SOFR
    customer_credit: list[CreditNameSpec] = []      # risk-neutral credit of fleet customers (name = customer)
    utilization_risk_premium: Number = 0.0          # logit units taken off the long-run utilization level


@dataclass(frozen=True)
class Spec:
    """A validated spec: one checked table each, and the timeline of all its times."""
    model: GBMSpec | JumpDiffusionSpec | SchwartzSpec | SchwartzSmithSpec | GpuFleetSpec | MultiIndexSpec
    instrument: (EuropeanSpec | AsianSpec | BarrierSpec | FutureSpec | SwapSpec | CapSpec
                 | FloorSpec | LoanSpec | FutureOptionSpec | ResidualPutSpec | None)
    mc: MCSpec
    market: MarketSpec
    timeline: Timeline

    def with_market(self, market: MarketSpec) -> Spec:
        """This spec in another market (its times resolved again from its valuation date)."""
        return timed(self.model, self.instrument, self.mc, market)


def timed(model, instrument, mc, market: MarketSpec) -> Spec:
    """A Spec of validated tables, with every time resolved from market.valuation_date."""
    date = parse_date(market.valuation_date, "market.valuation_date") if market.valuation_date else None
    if isinstance(model, MultiIndexSpec):
        model = model.checked(instrument, market.forward_curve)
    elif instrument is not None:
        _settled_index(instrument, SINGLE_INDEX, required=False)
    tables = {"model": model, "instrument": instrument, "mc": mc, "market": market}
    return Spec(model, instrument, mc, market, resolve_timeline(tables, date))


TABLES = {"model": MODEL_SPECS, "instrument": INSTRUMENT_SPECS, "mc": MCSpec,
          "market": MarketSpec}


