"""Fan charts of simulated quantiles: 5-95% and 25-75% bands and the median, as a PNG."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from gpufin.errors import SpecError

PANELS = (("index", "Rental index (USD per GPU-hour)", 1.0),
          ("collateral_value", "Collateral value (USD millions)", 1e-6))


def plot_fan(quantiles: pd.DataFrame, out_path: str | Path, title: str) -> Path:
    """Draw the index and collateral-value fans; written to a temporary file, then renamed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(out_path)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(12, 4.5), constrained_layout=True)
    for ax, (series, label, scale) in zip(axes, PANELS):
        q = quantiles[quantiles["series"] == series]
        dates = pd.to_datetime(q["date"])
        ax.fill_between(dates, q["q05"] * scale, q["q95"] * scale, color="tab:blue", alpha=0.18,
                        label="5-95%")
        ax.fill_between(dates, q["q25"] * scale, q["q75"] * scale, color="tab:blue", alpha=0.35,
                        label="25-75%")
        ax.plot(dates, q["q50"] * scale, color="tab:blue", lw=2, label="median")
        ax.plot(dates, q["mean"] * scale, color="black", lw=1, ls="--", label="mean")
        ax.set_title(label)
        ax.set_xlabel("date")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0].legend(loc="upper right")
    fig.suptitle(title)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SpecError("--plot", f"cannot write {out_path} ({exc.strerror})") from None
    finally:
        plt.close(fig)
    return out
