"""What the two calibrations of the Schwartz-Smith index model share: the parameters, their
names, units and range checks, the history's columns and the selection of one series, the
optimizer (BFGS from several starts) and the central-difference Hessian, and the written
`[model]` table. The fits: gpufin.models.calibration_mle (maximum likelihood on one series,
`gpufin calibrate --method mle`) and gpufin.models.calibration_bases (the posterior mode on
several price bases, the default).
"""
from __future__ import annotations

import math
import os
import secrets
from pathlib import Path

import numpy as np
import tomli_w
from scipy.optimize import minimize

from gpufin.errors import SpecError

PARAMETERS = ("kappa", "sigma_chi", "sigma_xi", "rho", "mu_xi", "sigma_eps")
SPEC_KEYS = {"kappa": "mean_reversion", "sigma_chi": "short_vol", "sigma_xi": "long_vol",
             "rho": "correlation", "mu_xi": "long_drift", "sigma_eps": None}
UNITS = {"kappa": "1/yr", "sigma_chi": "1/sqrt(yr)", "sigma_xi": "1/sqrt(yr)", "rho": "",
         "mu_xi": "log/yr", "sigma_eps": "log"}
DATE_COLUMN = "date"
LEVEL_COLUMN = "level_usd_per_gpu_hour"
_LOG_LIMIT = 30.0        # unconstrained values are clipped here, so exp() never overflows
_HESSIAN_STEP = 1e-3


def _canonical(name: str, key: str) -> str:
    name = name.strip()
    for short, spec_key in SPEC_KEYS.items():
        if name in (short, spec_key):
            return short
    raise SpecError(key, f"unknown parameter {name!r}; expected one of {', '.join(PARAMETERS)}")


def check_values(values: dict | None, key: str, require_all: bool = False) -> dict:
    """Parameter values by short name, range-checked."""
    out = {}
    for name, value in (values or {}).items():
        short = _canonical(name, key)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SpecError(f"{key}.{short}", f"got {value!r}; expected a number") from None
        if not math.isfinite(value):
            raise SpecError(f"{key}.{short}", f"got {value!r}; expected a finite number")
        if short == "kappa" and value <= 0.0:
            raise SpecError(f"{key}.{short}", f"got {value}; expected a mean reversion > 0")
        if short.startswith("sigma") and value < 0.0:
            raise SpecError(f"{key}.{short}", f"got {value}; expected a volatility >= 0")
        if short == "rho" and abs(value) > 1.0:
            raise SpecError(f"{key}.{short}", f"got {value}; expected a correlation in [-1, 1]")
        out[short] = value
    if require_all:
        missing = [k for k in PARAMETERS if k not in out]
        if missing:
            raise SpecError(key, f"missing {', '.join(missing)}")
    return out


def parse_fix(assignments) -> dict:
    """`NAME=VALUE` strings (CLI `--fix`) as a dict; NAME is a short name or a spec key."""
    fixed = {}
    for assignment in assignments:
        name, sep, raw = assignment.partition("=")
        if not sep:
            raise SpecError("--fix", f"got {assignment!r}; expected NAME=VALUE, e.g. kappa=2.0")
        fixed[_canonical(name, "--fix")] = raw.strip()
    return check_values(fixed, "--fix")


def check_levels(dates: np.ndarray, levels: np.ndarray) -> None:
    """A level that is not a positive finite price is a SpecError naming its date."""
    bad = np.flatnonzero(~(levels > 0.0) | ~np.isfinite(levels))
    if bad.size:
        raise SpecError("history", f"level {float(levels[bad[0]])!r} on {dates[bad[0]]}; expected a "
                                   "positive price in USD per GPU-hour")


def select_history(frame, sku: str | None = None, basis: str | None = None, source="history"):
    """Rows of one sku and one basis: a filter on a column the history lacks, or a history
    that mixes values of a column with no filter on it, is a SpecError naming the option."""
    for column, wanted, option in (("sku", sku, "--sku"), ("basis", basis, "--basis")):
        if column not in frame:
            if wanted is not None:
                raise SpecError(option, f"{source} has no {column} column")
            continue
        values = sorted(set(frame[column].astype(str)))
        if wanted is None:
            if len(values) > 1:
                raise SpecError(option, f"{source} holds {len(values)} {column} values "
                                        f"({', '.join(values)}); choose one with {option}")
            continue
        if wanted not in values:
            raise SpecError(option, f"got {wanted!r}; {source} holds {', '.join(values)}")
        frame = frame[frame[column].astype(str) == wanted].reset_index(drop=True)
    return frame


def schwartz_smith_table(estimates: dict, spot: float, short_factor: float) -> dict:
    """A spec `model` table of kind schwartz-smith from estimates keyed by PARAMETERS."""
    e = estimates
    return {"kind": "schwartz-smith", "spot": float(spot), "mean_reversion": e["kappa"],
            "short_vol": e["sigma_chi"], "long_vol": e["sigma_xi"], "correlation": e["rho"],
            "long_drift": e["mu_xi"], "short_factor": float(short_factor)}


def write_model(calibration, path, spot: float | None = None, source: str | None = None) -> Path:
    """Write `[model]` (the calibration's model_table) to a TOML file, atomically: a temporary
    file in the same folder, then os.replace. Comment lines (the calibration's header_lines)
    record the fit behind the numbers. `calibration` is a gpufin.models.calibration_mle
    Calibration or a gpufin.models.calibration_bases BasesCalibration."""
    cal, path = calibration, Path(path)
    header = cal.header_lines(source)
    text = "\n".join(header) + "\n\n" + tomli_w.dumps({"model": cal.model_table(spot)})
    folder = path.parent if str(path.parent) else Path(".")
    tmp = None
    try:
        # os.open with mode 0o666 leaves the permissions to the umask, as a plain open would
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise SpecError(str(path), f"cannot write the file ({exc.strerror})") from None
    return path


def minimize_best(nll, starts, n) -> np.ndarray:
    """Best BFGS optimum over the starting points (the mean NLL is minimized, for scale)."""

    def mean_nll(u):
        return nll(u) / n

    def grad(u):
        g = np.empty(u.size)
        for i in range(u.size):
            e = np.zeros(u.size)
            e[i] = 1e-6
            g[i] = (mean_nll(u + e) - mean_nll(u - e)) / 2e-6
        return g

    best = None
    for u0 in starts:
        res = minimize(mean_nll, np.asarray(u0, float), jac=grad, method="BFGS",
                       options={"gtol": 1e-7, "maxiter": 2000})
        if best is None or res.fun < best.fun:
            best = res
    return np.clip(best.x, -_LOG_LIMIT, _LOG_LIMIT)


def central_hessian(f, u) -> np.ndarray:
    """Central-difference Hessian of f at u."""
    k, h = u.size, _HESSIAN_STEP
    f0 = f(u)
    hess = np.empty((k, k))
    step = np.eye(k) * h
    for i in range(k):
        hess[i, i] = (f(u + step[i]) - 2.0 * f0 + f(u - step[i])) / (h * h)
        for j in range(i):
            hess[i, j] = hess[j, i] = (f(u + step[i] + step[j]) - f(u + step[i] - step[j])
                                       - f(u - step[i] + step[j]) + f(u - step[i] - step[j])
                                       ) / (4.0 * h * h)
    return hess
