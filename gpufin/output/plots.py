"""Charts written to PNG files with matplotlib's Agg canvas (no display, no pyplot state).

Each function builds its own Figure, draws and saves it atomically (gpufin.output.files), so
a failed or interrupted save never leaves a partial image under the requested name. Every
axis names its unit; money axes are in USD m (USD for figures under a million), with tick
labels that need no multiplier.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from gpufin.output.files import write_atomic
from gpufin.output.tables import cell


def plot_calibration(calibration, path, label: str | None = None) -> Path:
    """Observed log price, filtered chi + xi and filtered xi over time, as a PNG at `path`.

    `calibration` is a fit of gpufin.models.calibration_mle (Calibration) or of
    gpufin.models.calibration_bases (BasesCalibration); its LEVELS names the points. The left
    axis is ln(USD per GPU-hour), the right axis the same scale labelled in USD per GPU-hour;
    `label` (an SKU or file name) goes in the title. Returns the path written.
    """
    cal = calibration
    dates = cal.dates.astype("datetime64[D]").astype("O")
    fig = new_figure(10, 5.5)
    ax = fig.add_subplot()
    ax.plot(dates, cal.log_levels, ".", color="0.55", markersize=2.5, label=cal.LEVELS)
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
    return _save(fig, path)


def _save(fig: Figure, path) -> Path:
    """fig as a PNG at path, written atomically."""
    path = Path(path)
    write_atomic(path, write=lambda tmp: fig.savefig(tmp, format="png"))
    return path


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


MILLIONS_FROM = 1e6       # USD magnitude from which a money axis is in USD m


def money_axis(axis, values) -> tuple[str, bool]:
    """Tick labels of an axis of USD values: in millions when the values reach MILLIONS_FROM,
    with no multiplier and no scientific notation. Returns the unit (USD or USD m) and
    whether it is in millions."""
    millions = float(np.nanmax(np.abs(values), initial=0.0)) >= MILLIONS_FROM
    scale = 1e6 if millions else 1.0
    axis.set_major_formatter(FuncFormatter(
        lambda v, _: f"{round(v / scale, 6) + 0.0:,.6f}".rstrip("0").rstrip(".")))
    return ("USD m" if millions else "USD"), millions


def figure_text(value: float, millions: bool) -> str:
    """A USD figure with 2 decimals in the unit of its axis, as the tables show it."""
    return cell("value", value, millions=millions).text


def mark_var_es(ax, values, var: float, es: float, level: float, sign: float = 1.0) -> str:
    """The x axis in USD (or USD m) for `values`, with the VaR and ES (positive amounts) marked
    at sign x each (sign -1 on a P&L axis) and labelled at `level`; returns the axis unit."""
    unit, millions = money_axis(ax.xaxis, np.append(values, [var, es]))
    percent = f"{100.0 * level:g}%"
    ax.axvline(sign * var, color="tab:red", linewidth=2, label=f"VaR {percent}: {figure_text(var, millions)} {unit}")
    ax.axvline(sign * es, color="black", linewidth=1.5, linestyle="--",
               label=f"ES {percent}: {figure_text(es, millions)} {unit}")
    return unit


# series of gpufin.simulate: title, y-axis label ({usd}: the money unit), factor from the raw
# value, money; drawn from the valuation date (a month's cash flow is 0 there: no month has ended)
FAN_PANELS = (("index", "Rental index", "USD per GPU-hour", 1.0, False, True),
              ("utilization", "Merchant utilization", "utilization (%)", 100.0, False, True),
              ("cash_flow", "Operating cash flow", "{usd} per month", 1.0, True, False),
              ("collateral_value", "Collateral value", "{usd}", 1.0, True, True))


def plot_fan(quantiles, path, title: str) -> Path:
    """Fan charts of the index, utilization, operating cash flow and collateral value from
    `gpufin.simulate` quantiles: 5-95% and 25-75% bands, the median and the mean by date,
    as a PNG at `path`."""
    fig = new_figure(13, 8.5)
    axes = fig.subplots(2, 2).ravel()
    for ax, (series, name, label, scale, money, from_start) in zip(axes, FAN_PANELS):
        q = quantiles[(quantiles["series"] == series) & (from_start | (quantiles["time_years"] > 0))]
        dates = pd.to_datetime(q["date"])
        ax.fill_between(dates, q["q05"] * scale, q["q95"] * scale, color="tab:blue", alpha=0.18,
                        label="5-95%")
        ax.fill_between(dates, q["q25"] * scale, q["q75"] * scale, color="tab:blue", alpha=0.35,
                        label="25-75%")
        ax.plot(dates, q["q50"] * scale, color="tab:blue", linewidth=2, label="median")
        ax.plot(dates, q["mean"] * scale, color="black", linewidth=1, linestyle="--", label="mean")
        if money:
            label = label.format(usd=money_axis(ax.yaxis, q[["q05", "q95", "mean"]].to_numpy())[0])
        if (q["q05"] >= 0).all():
            ax.set_ylim(bottom=0)
        else:
            ax.axhline(0, color="0.4", linewidth=0.8)
        ax.set_title(name)
        ax.set_xlabel("date")
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelrotation=30)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_pnl_histogram(pnl, var: float, es: float, level: float, horizon_days: int, path) -> Path:
    """Histogram of simulated book P&L (USD, or USD m from a million) with the VaR and ES
    marked, as a PNG at `path`."""
    fig = new_figure(9, 5)
    ax = fig.add_subplot()
    ax.hist(pnl, bins=min(60, max(10, len(pnl) // 5)), color="tab:blue", alpha=0.75)
    unit = mark_var_es(ax, pnl, var, es, level, sign=-1.0)
    ax.set_title(f"Book P&L over {horizon_days} days, {len(pnl)} full revaluations")
    ax.set_xlabel(f"P&L ({unit})")
    ax.set_ylabel("scenarios")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_book_values(summary: pd.DataFrame, path, title: str) -> Path:
    """Bars of value and delta by SKU from a `gpufin.value_book` summary, labelled with their
    values, as a PNG at `path`; no delta panel when the book was valued without Greeks."""
    sku = summary[summary["by"] == "sku"]
    panels = [("value", "Value by SKU", "value ({usd})")]
    if sku["delta"].notna().any():
        panels.append(("delta", "Delta by SKU", "delta ({usd} per USD/GPU-hr)"))
    fig = new_figure(5.5 * len(panels) + 1, 5)
    for k, (column, name, label) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), k)
        values = sku[column].fillna(0.0).to_numpy()
        bars = ax.bar(sku["name"], values, color=np.where(values < 0, "tab:red", "tab:blue"))
        unit, millions = money_axis(ax.yaxis, values)
        ax.bar_label(bars, labels=[figure_text(v, millions) for v in values], padding=3, fontsize=9)
        ax.axhline(0, color="0.4", linewidth=0.8)
        ax.margins(y=0.12)
        ax.set_title(name)
        ax.set_xlabel("SKU")
        ax.set_ylabel(label.format(usd=unit))
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_stress(pnl: pd.Series, path, title: str) -> Path:
    """Horizontal bars of the book's P&L by scenario (a Series, USD, indexed by scenario
    name), labelled with their values, as a PNG at `path`."""
    fig = new_figure(9, 1.2 + 0.55 * len(pnl))
    ax = fig.add_subplot()
    names, values = list(pnl.index)[::-1], pnl.to_numpy()[::-1]
    bars = ax.barh(names, values, color=np.where(values < 0, "tab:red", "tab:blue"))
    unit, millions = money_axis(ax.xaxis, values)
    ax.bar_label(bars, labels=[figure_text(v, millions) for v in values], padding=4, fontsize=9)
    ax.axvline(0, color="0.4", linewidth=0.8)
    lo, hi = min(values.min(), 0.0), max(values.max(), 0.0)
    span = hi - lo or 1.0                 # room for the labels on the side the bars point to
    ax.set_xlim(lo - (0.2 if lo < 0 else 0.05) * span, hi + (0.2 if hi > 0 else 0.05) * span)
    ax.set_title(title)
    ax.set_xlabel(f"P&L ({unit})")
    ax.set_ylabel("scenario")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


# ---- figures for reports: built and returned unsaved, embedded by the caller -----------------

def figure_png(fig: Figure, dpi: int = 200) -> bytes:
    """fig as PNG bytes at `dpi` (a report embeds them; new_figure's 110 dpi is for files)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


DSCR_TOP = 3.0          # the DSCR axis stops at this multiple of the largest 75% quantile

# a loan's quantile tables by payment date: title, y-axis label, factor from the raw value
LOAN_FAN_PANELS = {"ltv": ("Loan-to-value by payment date", "LTV (% of collateral value)", 100.0),
                   "dscr": ("Debt service coverage by payment date", "DSCR (x)", 1.0)}


def loan_fan_figure(quantiles: dict, triggers: dict) -> Figure:
    """Fan charts of a loan's LTV (%) and DSCR (x) by payment date: 5-95% and 25-75% bands
    and the median over the paths still outstanding, with each covenant trigger as a line.
    `quantiles` maps "ltv" (and "dscr", absent for index collateral) to the rows of a loan
    result's `ltv_quantiles` / `dscr_quantiles`; `triggers` maps the same names to the
    covenant level (raw: a fraction, a multiple) or None. Near repayment the DSCR of a small
    debt service is huge, so its axis stops at DSCR_TOP x the largest 75% quantile."""
    names = [name for name in LOAN_FAN_PANELS if quantiles.get(name)]
    fig = new_figure(10.4, 4.0)
    for k, name in enumerate(names, start=1):
        title, label, scale = LOAN_FAN_PANELS[name]
        q = pd.DataFrame(quantiles[name])
        dates = pd.to_datetime(q["date"])
        ax = fig.add_subplot(1, len(names), k)
        ax.fill_between(dates, q["q05"] * scale, q["q95"] * scale, color="tab:blue", alpha=0.18,
                        label="5-95%")
        ax.fill_between(dates, q["q25"] * scale, q["q75"] * scale, color="tab:blue", alpha=0.35,
                        label="25-75%")
        ax.plot(dates, q["q50"] * scale, color="tab:blue", linewidth=2, label="median")
        if triggers.get(name) is not None:
            ax.axhline(triggers[name] * scale, color="tab:red", linewidth=1.5, linestyle="--",
                       label=f"covenant {triggers[name] * scale:g}")
        if name == "dscr":
            top = DSCR_TOP * float(np.nanmax(q["q75"]))
            ax.set_ylim(min(0.0, float(np.nanmin(q["q05"]))), max(top, 2.0 * (triggers.get(name) or 1.0)))
            ax.axhline(0, color="0.4", linewidth=0.8)
        else:
            ax.set_ylim(bottom=0)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("payment date")
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def loss_histogram_figure(losses, var: float, es: float, level: float) -> Figure:
    """Histogram of the lifetime loss per path (PV at the valuation date, USD, or USD m from a
    million) on a log count axis, as most paths lose nothing, with the loss VaR and ES at
    `level` marked."""
    losses = np.asarray(losses, dtype=float)
    fig = new_figure(10.4, 3.8)
    ax = fig.add_subplot()
    ax.hist(losses, bins=50, color="tab:blue", alpha=0.75, log=True, label="paths")
    unit = mark_var_es(ax, losses, var, es, level)
    hit = float(np.mean(losses > 0.0))
    ax.set_title(f"Lifetime PV loss per path: {losses.size:,} paths, {hit:.1%} with a loss", fontsize=10)
    ax.set_xlabel(f"PV loss ({unit})")
    ax.set_ylabel("paths (log scale)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
