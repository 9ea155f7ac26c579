"""Credit risk of a loan book from its simulated loss matrix (docs/loanbook.md).

Every figure is under the real-world measure: the losses are `BookPaths.loss` (lifetime) or
`BookPaths.loss_horizon` (defaults at or before the horizon only), USD, present values at the
valuation date, one row per path and one column per loan.

Estimators, over N paths of the book's total loss L (the sum of the loans' losses):
- EL: the mean of L; standard error the sample standard deviation over sqrt(N).
- VaR and ES at `level`, with standard errors: gpufin.engines.tail (m = ceil((1 - level) N)
  tail paths; VaR the numpy quantile at `level`, as the q99 column and `portfolio var`; ES the
  mean of the m worst path losses, ties by path number; delta-method and Manistre-Hancock
  standard errors).
- P(k or more defaults): the share of paths on which k or more loans default; standard error
  sqrt(p (1 - p) / N).
- Euler contributions to ES: a loan's is the mean of its loss over the ES tail paths, so the
  loans' contributions add up to ES. A group's (customer, platform, SKU) is the sum over its
  loans of weight x the loan's contribution; each loan's weights add up to one, so every
  grouping adds up to ES too. A loan's loss goes to its customers in proportion to their
  shares of the fleet's GPU-years over the loan's life (a contract's share of the fleet x the
  years of its term inside [0, the loan's last payment], over that life; gpu_year_shares), what
  no contract covers to MERCHANT; so contracts that follow one another (a renewal, or 0.9 for
  years 0-2 then 0.9 for years 2-4 of a 5.5-year loan: 0.327 each, 0.345 merchant) weigh by the
  time they run. All of a loan's loss goes to its platform (or NO_PLATFORM) and to its SKU. Standard errors by batch means: the paths in B contiguous
  batches (by path number; B = BATCHES, fewer when a batch's tail would hold under
  MIN_BATCH_TAIL paths, at least 2), the contributions estimated on each alone; the standard
  error is the batches' standard deviation over sqrt(B).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from gpufin.engines.tail import tail_measures, tail_paths, tail_size
from gpufin.errors import SpecError

BATCHES = 20                 # batches of the contributions' standard errors, at most
MIN_BATCH_TAIL = 10          # tail paths a batch should hold
MERCHANT = "(merchant)"      # the share of a loan that no contract covers
NO_PLATFORM = "(none)"       # a loan with no platform
QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)
HEADLINE = ("expected_loss", "expected_loss_stderr", "var", "var_stderr", "es", "es_stderr")


def check_level(level: float) -> float:
    """A confidence level strictly between 0.5 and 1."""
    if not (isinstance(level, (int, float)) and 0.5 < level < 1.0):
        raise SpecError("--level", f"got {level!r}; expected a level between 0.5 and 1")
    return float(level)


def batch_stderr(estimates: np.ndarray) -> np.ndarray:
    """The batch-means standard error of an estimate from its values on each batch (axis 0)."""
    estimates = np.asarray(estimates, dtype=np.float64)
    return np.std(estimates, axis=0, ddof=1) / math.sqrt(len(estimates))


def contribution_batches(paths: int, level: float) -> int:
    """B of the contributions' batch means: BATCHES, fewer when a batch's tail would hold under
    MIN_BATCH_TAIL paths, at least 2."""
    return max(2, min(BATCHES, tail_size(paths, level) // MIN_BATCH_TAIL))


def _batches(paths: int, level: float) -> list[np.ndarray]:
    return np.array_split(np.arange(paths), contribution_batches(paths, level))


def check_paths(paths: int) -> None:
    """Enough paths for every estimator: at least 2 per contribution batch."""
    if paths < 2 * BATCHES:
        raise SpecError("--paths", f"got {paths}; expected at least {2 * BATCHES} paths")


def loss_measures(total: np.ndarray, level: float) -> dict:
    """EL, VaR and ES (USD) of the book's loss per path, each with its standard error, the
    probability of any loss, and the quantiles of QUANTILES as q50, q90, ..."""
    total = np.asarray(total, dtype=np.float64)
    n = len(total)
    check_paths(n)
    tail = tail_measures(total, level)
    hit = float(np.mean(total > 0.0))
    return {"expected_loss": float(total.mean()), "expected_loss_stderr": float(total.std(ddof=1) / math.sqrt(n)),
            **tail,
            "loss_probability": hit, "loss_probability_stderr": math.sqrt(hit * (1 - hit) / n),
            **{f"q{round(1000 * q) if q > 0.99 else round(100 * q):02d}": float(np.quantile(total, q))
               for q in QUANTILES}}


def default_counts(defaulted: np.ndarray, k_max: int | None = None) -> pd.DataFrame:
    """P(k or more loans default) for k = 1..k_max (default: the number of loans, cut after the
    first k no path reaches), from a [paths, loans] array of default indicators."""
    counts = np.asarray(defaulted, dtype=bool).sum(axis=1)
    n, loans = len(counts), np.asarray(defaulted).shape[1]
    k_max = loans if k_max is None else min(k_max, loans)
    rows = []
    for k in range(1, k_max + 1):
        p = float(np.mean(counts >= k))
        rows.append({"k": k, "probability": p, "probability_stderr": math.sqrt(p * (1 - p) / n)})
        if p == 0.0:
            break
    return pd.DataFrame(rows, columns=["k", "probability", "probability_stderr"])


def euler(loss: np.ndarray, level: float) -> np.ndarray:
    """Each loan's Euler contribution to ES (USD): the mean of its loss over the ES tail paths
    of the book's total loss."""
    loss = np.asarray(loss, dtype=np.float64)
    return loss[tail_paths(loss.sum(axis=1), level)].mean(axis=0)


def batch_contributions(loss: np.ndarray, level: float) -> np.ndarray:
    """The loans' Euler contributions on each batch of paths: [batches, loans]."""
    loss = np.asarray(loss, dtype=np.float64)
    return np.array([euler(loss[b], level) for b in _batches(len(loss), level)])


def weights(names_by_loan: list[dict[str, float]]) -> tuple[list[str], np.ndarray]:
    """Group names (sorted) and the [loans, groups] matrix of each loan's weights, from each
    loan's {group: weight}; every loan's weights must add up to one."""
    names = sorted({name for w in names_by_loan for name in w})
    matrix = np.zeros((len(names_by_loan), len(names)))
    column = {name: j for j, name in enumerate(names)}
    for i, w in enumerate(names_by_loan):
        for name, share in w.items():
            matrix[i, column[name]] += share
    if not np.allclose(matrix.sum(axis=1), 1.0, rtol=0, atol=1e-12):
        raise ValueError("each loan's group weights must add up to 1")
    return names, matrix


def gpu_year_shares(contracts: list[tuple[str, float, float, float]], life_years: float) -> dict[str, float]:
    """Each customer's share of the fleet's GPU-years over a loan's life [0, life_years]: the
    sum over its contracts (customer, share of the fleet, start and end in years) of share x
    the years of [start, end] inside the loan's life, over life_years. The schema holds the
    shares in force at any time to at most 1, so these add up to at most 1 however contracts
    follow one another."""
    if not life_years > 0.0:
        raise SpecError("instrument.maturity", f"got a life of {life_years!r} years; expected a loan life > 0")
    out: dict[str, float] = {}
    for name, share, start, end in contracts:
        overlap = max(0.0, min(end, life_years) - max(start, 0.0))
        out[name] = out.get(name, 0.0) + share * overlap / life_years
    return out


def customer_weights(shares: dict[str, float]) -> dict[str, float]:
    """A loan's weights by customer from its customers' shares of the fleet's GPU-years
    (gpu_year_shares), the rest to MERCHANT, so that they add up to 1."""
    out = dict(shares)
    rest = 1.0 - sum(out.values())
    if rest > 1e-12:
        out[MERCHANT] = out.get(MERCHANT, 0.0) + rest
    return out


def groupings(customer_shares: list[dict[str, float]], platforms: list[str | None],
              skus: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
    """The weights of each grouping of contributions: customer, platform, SKU."""
    return {"customer": weights([customer_weights(s) for s in customer_shares]),
            "platform": weights([{p or NO_PLATFORM: 1.0} for p in platforms]),
            "sku": weights([{s: 1.0} for s in skus])}


def contribution_table(ids: list[str], exposure: np.ndarray, loss: np.ndarray, level: float,
                       groups: dict[str, tuple[list[str], np.ndarray]]) -> pd.DataFrame:
    """Rows (by, name, exposure_usd, expected_loss, es_contribution_usd and its standard
    error, es_share) by loan and by each grouping of `groups`; es_share is the contribution
    over ES, a fraction, and 0.0 on every row when ES is 0 (no loss in the tail: nothing to
    share, and JSON has no NaN)."""
    loss = np.asarray(loss, dtype=np.float64)
    contribution = euler(loss, level)
    per_batch = batch_contributions(loss, level)
    el = loss.mean(axis=0)
    es = float(contribution.sum())
    frames = [pd.DataFrame({"by": "loan", "name": ids, "exposure_usd": exposure, "expected_loss": el,
                            "es_contribution_usd": contribution,
                            "es_contribution_usd_stderr": batch_stderr(per_batch)})]
    for by, (names, w) in groups.items():
        frames.append(pd.DataFrame({"by": by, "name": names, "exposure_usd": exposure @ w,
                                    "expected_loss": el @ w,
                                    "es_contribution_usd": contribution @ w,
                                    "es_contribution_usd_stderr": batch_stderr(per_batch @ w)}))
    table = pd.concat(frames, ignore_index=True)
    table["es_share"] = table["es_contribution_usd"] / es if es > 0 else 0.0
    return table


def parse_horizon(text: str) -> float | None:
    """--horizon as years: `life` is None (every default to the last maturity); `NY` is N years
    and `NM` N/12 (N a whole number >= 1)."""
    match = re.fullmatch(r"\s*(\d+)\s*([YyMm])\s*", str(text))
    if str(text).strip().lower() == "life":
        return None
    if not match or int(match[1]) < 1:
        raise SpecError("--horizon", f"got {text!r}; expected life or a tenor such as 1Y or 6M")
    return int(match[1]) / (1.0 if match[2] in "Yy" else 12.0)


def concentration(table: pd.DataFrame) -> dict:
    """The largest customer's and platform's shares of the book's exposure and EL (fractions),
    from a contribution_table; the merchant share and loans without a platform are no name."""
    loans = table[table["by"] == "loan"]
    exposure, el = float(loans["exposure_usd"].sum()), float(loans["expected_loss"].sum())
    out = {}
    for by in ("customer", "platform"):
        named = table[(table["by"] == by) & ~table["name"].isin([MERCHANT, NO_PLATFORM])]
        for measure, column, total in (("exposure", "exposure_usd", exposure), ("el", "expected_loss", el)):
            if named.empty or total <= 0:
                continue
            top = named.loc[named[column].idxmax()]
            out[f"largest_{by}_{measure}"] = str(top["name"])
            out[f"largest_{by}_{measure}_share"] = float(top[column]) / total
    return out


def horizon_losses(paths, horizon_years: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The [paths, loans] losses (USD) and default indicators of a BookPaths at its horizon
    (`loss_horizon`, defaults at or before `paths.horizon`) or over the loans' lives (None)."""
    if horizon_years is None:
        return np.asarray(paths.loss), np.isfinite(paths.default_time)
    return np.asarray(paths.loss_horizon), np.asarray(paths.default_time) <= paths.horizon


def credit_risk(paths, level: float, horizon_years: float | None) -> tuple[dict, pd.DataFrame]:
    """The book's credit risk from a BookPaths: a result record (EL, VaR, ES with standard
    errors at the chosen horizon; `distribution`: the same and the loss quantiles at the
    horizon and over the loans' lives; `defaults`: P(k or more defaults); the concentration)
    and the contribution table at the chosen horizon (customers by each loan's
    `loan_customer_shares`: its customers' shares of the fleet's GPU-years, gpu_year_shares)."""
    level = check_level(level)
    loss, defaulted = horizon_losses(paths, horizon_years)
    n = loss.shape[0]
    groups = groupings(list(paths.loan_customer_shares), list(paths.loan_platform), list(paths.loan_sku))
    table = contribution_table(list(paths.ids), np.asarray(paths.exposure, dtype=np.float64), loss, level,
                               groups)
    distribution = [{"horizon": name, **loss_measures(part.sum(axis=1), level)}
                    for name, part in ((f"{paths.horizon:g}y", paths.loss_horizon), ("life", paths.loss))]
    chosen = distribution[1 if horizon_years is None else 0]
    result = {"horizon": chosen["horizon"], "level": level, "paths": n, "seed": paths.seed,
              "loans": len(paths.ids), "exposure_usd": float(np.sum(paths.exposure)),
              **{k: chosen[k] for k in HEADLINE},
              **concentration(table),
              "distribution": distribution,
              "defaults": default_counts(defaulted).to_dict(orient="records")}
    return result, table


def scenario_table(base, scenarios: dict, level: float, horizon_years: float | None) -> pd.DataFrame:
    """The book's EL, VaR and ES (USD) with each named obligor in default at t = 0, against the
    base run on the same paths: `el_change` and its standard error from the per-path
    differences (common random numbers). `scenarios`: {name: BookPaths of that run}."""
    base_total = horizon_losses(base, horizon_years)[0].sum(axis=1)
    rows = [{"scenario": "base", **_scenario_row(base_total, base_total, level)}]
    for name, paths in scenarios.items():
        rows.append({"scenario": name,
                     **_scenario_row(horizon_losses(paths, horizon_years)[0].sum(axis=1), base_total,
                                     level)})
    return pd.DataFrame(rows)


def _scenario_row(total: np.ndarray, base_total: np.ndarray, level: float) -> dict:
    measures = loss_measures(total, level)
    change = total - base_total
    return {**{k: measures[k] for k in HEADLINE},
            "el_change_usd": float(change.mean()),
            "el_change_usd_stderr": float(change.std(ddof=1) / math.sqrt(len(change)))}
