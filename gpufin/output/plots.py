"""Charts written to image files with matplotlib's Agg canvas (no display, no pyplot state).

Each function here stands alone: it builds its own Figure, draws, and saves it atomically
(a temporary file in the target folder, then os.replace), so a failed or interrupted
save never leaves a partial image under the requested name.
"""
from __future__ import annotations

import contextlib
import math
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from gpufin.errors import SpecError


def plot_calibration(calibration, path, label: str | None = None) -> Path:
    """Observed log price, filtered chi + xi and filtered xi over time, as a PNG at `path`.

    `calibration` is a gpufin.models.calibration.Calibration. The left axis is ln(USD per
    GPU-hour), the right axis the same scale labelled in USD per GPU-hour; `label` (an SKU
    or file name) goes in the title. Returns the path written.
    """
    cal = calibration
    dates = cal.dates.astype("datetime64[D]").astype("O")
    fig = Figure(figsize=(10, 5.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(dates, cal.log_levels, ".", color="0.55", markersize=2.5,
            label="observed ln S (index print)")
    ax.plot(dates, cal.chi + cal.xi, color="tab:blue", linewidth=1.2,
            label="filtered chi + xi (noise-free log price)")
    ax.plot(dates, cal.xi, color="tab:red", linewidth=1.6, linestyle="--",
            label="filtered xi (long-term level)")
    e = cal.estimates
    title = "Schwartz-Smith fit" + (f", {label}" if label else "")
    ax.set_title(f"{title}: {cal.start_date} to {cal.end_date}, {cal.n_obs} observations\n"
                 f"kappa {e['kappa']:.3g}/yr, sigma_chi {e['sigma_chi']:.3g}, "
                 f"sigma_xi {e['sigma_xi']:.3g}, rho {e['rho']:.2f}, "
                 f"mu_xi {e['mu_xi']:+.3g} log/yr, sigma_eps {e['sigma_eps']:.3g}",
                 fontsize=10)
    ax.set_xlabel("date")
    ax.set_ylabel("log rental price, ln(USD per GPU-hour)")
    right = ax.secondary_yaxis("right", functions=(np.exp, lambda v: np.log(np.maximum(v, 1e-300))))
    decades = float(np.ptp(cal.log_levels)) / math.log(10.0)
    subs = (1.0, 2.0, 5.0) if decades > 1.2 else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0)
    right.yaxis.set_major_locator(LogLocator(base=10.0, subs=subs))
    right.yaxis.set_minor_locator(NullLocator())
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    right.set_ylabel("rental price (USD per GPU-hour)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _save_atomic(fig, Path(path))


def _save_atomic(fig, path: Path) -> Path:
    """fig as a PNG at path, written to a temporary file in the same folder first."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        # os.open with mode 0o666 leaves the permissions to the umask, as a plain open would
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise SpecError(str(path), f"cannot write the file ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png")
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise SpecError(str(path), f"cannot write the file ({exc.strerror})") from None
        raise
    return path


FAN_PANELS = (("index", "Rental index (USD per GPU-hour)", 1.0),
              ("collateral_value", "Collateral value (USD millions)", 1e-6))


def plot_fan(quantiles, path, title: str) -> Path:
    """Fan charts of the index and the collateral value from `gpufin.simulate` quantiles:
    5-95% and 25-75% bands, the median and the mean by date, as a PNG at `path`."""
    fig = Figure(figsize=(12, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(FAN_PANELS))
    for ax, (series, label, scale) in zip(axes, FAN_PANELS):
        q = quantiles[quantiles["series"] == series]
        dates = pd.to_datetime(q["date"])
        ax.fill_between(dates, q["q05"] * scale, q["q95"] * scale, color="tab:blue", alpha=0.18,
                        label="5-95%")
        ax.fill_between(dates, q["q25"] * scale, q["q75"] * scale, color="tab:blue", alpha=0.35,
                        label="25-75%")
        ax.plot(dates, q["q50"] * scale, color="tab:blue", linewidth=2, label="median")
        ax.plot(dates, q["mean"] * scale, color="black", linewidth=1, linestyle="--", label="mean")
        ax.set_title(label)
        ax.set_xlabel("date")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return _save_atomic(fig, Path(path))


def plot_pnl_histogram(pnl, var: float, es: float, level: float, horizon_days: int, path) -> Path:
    """Histogram of simulated book P&L (USD) with the VaR and ES marked, as a PNG at `path`."""
    fig = Figure(figsize=(9, 5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.hist(pnl, bins=min(60, max(10, len(pnl) // 5)), color="tab:blue", alpha=0.75)
    ax.axvline(-var, color="tab:red", linewidth=2, label=f"VaR {level:.0%}: {var:,.0f} USD")
    ax.axvline(-es, color="black", linewidth=1.5, linestyle="--", label=f"ES {level:.0%}: {es:,.0f} USD")
    ax.set_title(f"Book P&L over {horizon_days} days, {len(pnl)} full revaluations")
    ax.set_xlabel("P&L (USD)")
    ax.set_ylabel("scenarios")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save_atomic(fig, Path(path))
