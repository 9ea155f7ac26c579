"""A hedge's chart: the P&L distribution unhedged and hedged, and P&L against the index
level at the horizon (matplotlib's Agg canvas, written atomically as gpufin.output.plots)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gpufin.output.files import write_atomic
from gpufin.output.plots import new_figure

SCATTER_POINTS = 4000          # paths drawn in the scatter (the first ones: any run, same points)


def plot_hedge(run, path, title: str) -> Path:
    """Two panels of a gpufin.hedge.run.HedgeRun: histograms of the unhedged and hedged P&L
    (USD m) with their 99% ES marked, and both P&Ls against the index level at the horizon
    (USD/GPU-hr). Returns the path written."""
    unhedged = run.exposure / 1e6
    hedged = (run.exposure + run.hedges @ run.quantities) / 1e6
    result = run.result
    es = {row["position"]: row["es"] / 1e6 for row in result["risk"]}
    fig = new_figure(12, 5)
    left, right = fig.subplots(1, 2)
    bins = np.histogram_bin_edges(np.concatenate([unhedged, hedged]), bins=80)
    for pnl, name, color in ((unhedged, "unhedged", "tab:red"), (hedged, "hedged", "tab:blue")):
        left.hist(pnl, bins=bins, color=color, alpha=0.45, label=f"{name}: 99% ES {es[name]:,.2f}")
        left.axvline(-es[name], color=color, linestyle="--", linewidth=1.0)
    left.set_xlabel("P&L to the horizon (USD m)")
    left.set_yscale("log")          # a loan's losses are rare and large: the tail must show
    left.set_ylabel("paths (log scale)")
    left.set_title("P&L distribution")
    left.legend(loc="upper left", fontsize=8)
    shown = slice(0, min(SCATTER_POINTS, unhedged.size))
    level = run.level[shown]
    right.scatter(level, unhedged[shown], s=3, color="tab:red", alpha=0.4, label="unhedged")
    right.scatter(level, hedged[shown], s=3, color="tab:blue", alpha=0.4, label="hedged")
    right.set_xlabel(f"index level at the horizon, {result['horizon_years']:.2f} yr (USD/GPU-hr)")
    right.set_ylabel("P&L (USD m)")
    right.set_title("P&L against the index level")
    right.legend(loc="upper left", fontsize=8, markerscale=4)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    write_atomic(path, write=lambda tmp: fig.savefig(tmp, format="png"))
    return path
