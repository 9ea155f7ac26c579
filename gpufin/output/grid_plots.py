"""A sensitivity grid (gpufin.risk.grid) as a chart: over one varied key a line with its 95%
band, over two a heat map with a colour bar and each cell's value written in it; saved
atomically (gpufin.output.files) as PNG or SVG by the file's extension.

Each quantity is drawn in the unit the tables show for its key (gpufin.output.tables: % for
PD and utilization, bp for spreads, % of par for prices, USD, or USD m from a million); a
key of no known unit (`model.spot`) is drawn as given and labelled with the key alone.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from gpufin.errors import SpecError
from gpufin.output.files import write_atomic
from gpufin.output.plots import MILLIONS_FROM, new_figure
from gpufin.output.tables import cell, kind_of, stderr_key

FORMATS = {".png": "png", ".svg": "svg"}
Z95 = 1.96              # half-width of the band in standard errors
MISSING = "0.85"        # grey of a cell whose point failed


def plot_grid(frame: pd.DataFrame, field: str, path) -> Path:
    """The `field` column of a `gpufin.grid` frame over its one or two varied keys, as a PNG
    or SVG (by the extension of `path`). Returns the path written."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SpecError(str(path), f"got a {path.suffix or 'no'} extension; expected a .png or .svg file")
    if field not in frame.columns:
        raise SpecError("--field", f"got {field!r}; the grid holds {', '.join(map(str, frame.columns))}")
    if frame[field].isna().all():
        raise SpecError(str(path), f"every point of the grid failed; no {field} to plot")
    keys = [c for c in frame.columns if c not in (field, stderr_key(field), "error")]
    fig = _line(frame, keys[0], field) if len(keys) == 1 else _heat_map(frame, keys, field)
    write_atomic(path, write=lambda tmp: fig.savefig(tmp, format=fmt))
    return path


def _drawn(key: str, values) -> tuple[float, str, bool]:
    """How values of `key` are drawn: the factor from the raw values, the axis label with the
    unit, and whether money is in USD m."""
    kind = kind_of(key)
    if kind is None:
        return 1.0, key, False
    millions = kind.money and float(np.nanmax(np.abs(values), initial=0.0)) >= MILLIONS_FROM
    unit = kind.unit.replace("USD", "USD m", 1) if millions else kind.unit
    return (1e-6 if millions else kind.scale), (f"{key} ({unit})" if unit else key), millions


def _title(frame: pd.DataFrame, field: str, keys: list[str]) -> str:
    failed = int(frame["error"].notna().sum())
    note = f"; {failed} of {len(frame)} points failed" if failed else ""
    return f"{field} over {' and '.join(keys)}{note}"


def _line(frame: pd.DataFrame, key: str, field: str):
    """`field` against `key`, with a band of +-Z95 standard errors where it has them."""
    x_factor, x_label, _ = _drawn(key, frame[key])
    y_factor, y_label, _ = _drawn(field, frame[field])
    x = frame[key].to_numpy(dtype=float) * x_factor
    y = frame[field].to_numpy(dtype=float) * y_factor
    fig = new_figure(8, 5)
    ax = fig.add_subplot()
    se_key = stderr_key(field)
    if frame[se_key].gt(0).any():
        half = Z95 * frame[se_key].to_numpy(dtype=float) * y_factor
        ax.fill_between(x, y - half, y + half, color="tab:blue", alpha=0.2,
                        label=f"95% band (±{Z95} stderr)")
    ax.plot(x, y, "o-", color="tab:blue", label=field)
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.set_title(_title(frame, field, [key]))
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _heat_map(frame: pd.DataFrame, keys: list[str], field: str):
    """`field` over the first key (across) and the second (up), each cell annotated."""
    across, up = keys
    table = frame.pivot(index=up, columns=across, values=field)
    values = table.to_numpy(dtype=float)
    factor, label, millions = _drawn(field, values)
    fig = new_figure(8, 6)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=MISSING)
    image = ax.imshow(np.ma.masked_invalid(values * factor), cmap=cmap, origin="lower", aspect="auto")
    bar = fig.colorbar(image, ax=ax)
    bar.formatter.set_useOffset(False)
    bar.formatter.set_scientific(False)
    bar.update_ticks()
    bar.set_label(label)
    size = max(6, 11 - max(values.shape) // 2)
    for (i, j), value in np.ndenumerate(values):
        shade = image.cmap(image.norm(value * factor)) if np.isfinite(value) else (1.0, 1.0, 1.0)
        dark = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] < 0.5
        ax.text(j, i, cell(field, value, millions=millions).text, ha="center", va="center",
                fontsize=size, color="white" if dark else "black")
    for axis, key, ticks in ((ax.xaxis, across, table.columns), (ax.yaxis, up, table.index)):
        tick_factor, tick_label, _ = _drawn(key, ticks)
        axis.set_ticks(range(len(ticks)), [_number(v * tick_factor) for v in ticks])
        axis.set_label_text(tick_label)
    ax.set_title(_title(frame, field, keys))
    fig.tight_layout()
    return fig


def _number(x: float) -> str:
    """A tick label: up to 6 significant digits, never in scientific notation."""
    return np.format_float_positional(float(x), precision=6, fractional=False, trim="-")
