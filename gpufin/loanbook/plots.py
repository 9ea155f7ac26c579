"""The chart of `portfolio credit --plot`: the histogram of the book's credit loss per path
with VaR and ES marked, and the Euler contributions to ES by loan, customer, platform and SKU
(matplotlib's Agg canvas, no pyplot state; written atomically)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from gpufin.output.files import write_atomic
from gpufin.output.plots import mark_var_es, money_axis, new_figure

MAX_BARS = 15           # loans shown, the largest contributions


def plot_credit(losses, contributions: pd.DataFrame, result: dict, path) -> Path:
    """The loss histogram (USD or USD m, log count axis: most paths lose nothing) with VaR and
    ES at the result's level, over four panels of ES contributions, as a PNG at `path`."""
    losses = np.asarray(losses, dtype=np.float64)
    fig = new_figure(13, 9)
    grid = fig.add_gridspec(2, 4, height_ratios=[1.0, 1.2])
    ax = fig.add_subplot(grid[0, :])
    ax.hist(losses, bins=60, color="tab:blue", alpha=0.75, log=True)
    unit = mark_var_es(ax, losses, result["var"], result["es"], result["level"])
    ax.set_title(f"Credit loss of the book to {result['horizon']} (real-world, PV): {len(losses):,} paths, "
                 f"{np.mean(losses > 0):.1%} with a loss")
    ax.set_xlabel(f"loss ({unit})")
    ax.set_ylabel("paths (log scale)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))     # no mathtext powers of 10
    ax.grid(True, alpha=0.3)
    ax.legend()
    for j, by in enumerate(("loan", "customer", "platform", "sku")):
        _bars(fig.add_subplot(grid[1, j]), contributions[contributions["by"] == by], by)
    fig.tight_layout()
    path = Path(path)
    write_atomic(path, write=lambda tmp: fig.savefig(tmp, format="png"))
    return path


def _bars(ax, rows: pd.DataFrame, by: str) -> None:
    rows = rows.sort_values("es_contribution_usd", ascending=False).head(MAX_BARS).iloc[::-1]
    unit, _ = money_axis(ax.xaxis, rows["es_contribution_usd"].to_numpy())
    ax.barh(rows["name"].astype(str), rows["es_contribution_usd"], xerr=2 * rows["es_contribution_usd_stderr"],
            color="tab:orange", alpha=0.85, error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.set_title(f"ES contribution by {by}" + (f" (largest {MAX_BARS})" if by == "loan" else ""), fontsize=10)
    ax.set_xlabel(f"{unit} (lines: 2 standard errors either side)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(True, axis="x", alpha=0.3)
