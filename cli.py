"""The `gpufin` command. It only parses, calls gpufin's Python API and formats.

gpufin itself (and with it numba, QuantLib, pandas) is imported inside the commands, so
`gpufin --help` stays fast (tests/test_cli.py guards it); every other module imports at its top. User mistakes print one line, `error: KEY: PROBLEM`, and exit with status 2.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import sys
from pathlib import Path

import click

FORMATS = ("table", "json", "csv")


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):          # numpy scalars
        return value.item()
    return value


def _cell(value) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{len(value)} rows (see --format json)"
    if isinstance(value, float):
        return f"{value:.10g}" if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return "" if value is None else str(value)


def render(result: dict, fmt: str) -> str:
    """A result as a key/value table, a JSON object or a one-row CSV (lists as JSON)."""
    result = _jsonable(result)
    if fmt == "json":
        return json.dumps(result, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.keys())
        writer.writerow(json.dumps(v) if isinstance(v, list) else ("" if v is None else v)
                        for v in result.values())
        return buf.getvalue().rstrip("\n")
    width = max(len(k) for k in result)
    return "\n".join(f"{k:<{width}}  {_cell(v)}" for k, v in result.items())


class _Group(click.Group):
    """Turns SpecError into a one-line message and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            errors = sys.modules.get("gpufin.errors")     # loaded by any command that ran
            if errors is None or not isinstance(exc, errors.SpecError):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


def run_options(command):
    """--paths, --seed and --set, shared by the commands that run a spec."""
    command = click.option("--set", "overrides", multiple=True, metavar="TABLE.KEY=VALUE",
                           help="Override any spec key; VALUE is read as TOML (repeatable).")(command)
    command = click.option("--seed", type=int, help="Override mc.seed.")(command)
    return click.option("--paths", type=int, help="Override mc.paths.")(command)


def spec_overrides(overrides, paths, seed) -> list[str]:
    """The --set assignments followed by those of --paths and --seed."""
    extra = [f"mc.paths={paths}"] * (paths is not None) + [f"mc.seed={seed}"] * (seed is not None)
    return list(overrides) + extra


@click.group(cls=_Group)
@click.version_option(package_name="gpufin")
def main():
    """gpufin: price compute derivatives and GPU-backed loans by Monte Carlo."""


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@run_options
@click.option("--solve", type=click.Choice(["spread"]),
              help="Solve a loan's spread over SOFR for a price of par.")
def price(spec, fmt, paths, seed, overrides, solve):
    """Value the trade described by SPEC (a TOML or JSON file)."""
    import gpufin
    price_spec = gpufin.solve_spread if solve else gpufin.price
    click.echo(render(price_spec(spec, spec_overrides(overrides, paths, seed)), fmt))


@main.command()
@click.argument("history", type=click.Path(dir_okay=False))
@click.option("--sku", help="Use only the rows of this SKU (files with a sku column).")
@click.option("--basis", help="Use only the rows of this price basis (files with a basis column).")
@click.option("--fix", "fixes", multiple=True, metavar="NAME=VALUE",
              help="Hold a parameter at VALUE: kappa, sigma_chi, sigma_xi, rho, mu_xi, sigma_eps "
                   "or its spec key (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write the fitted [model] table to this TOML file.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Draw observed and filtered log prices to this PNG file.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True, help="Output format.")
def calibrate(history, sku, basis, fixes, out, plot, fmt):
    """Fit the Schwartz-Smith model to a price HISTORY (CSV: date, level_usd_per_gpu_hour)
    by maximum likelihood with a Kalman filter; print estimates and standard errors."""
    from gpufin.models.calibration import calibrate_file, parse_fix, write_model
    from gpufin.output.plots import plot_calibration
    cal = calibrate_file(history, sku=sku, basis=basis, fixed=parse_fix(fixes))
    if out:
        write_model(cal, out, source=Path(history).name + (f" (sku {sku})" if sku else ""))
    if plot:
        plot_calibration(cal, plot, label=sku or Path(history).name)
    click.echo(render(cal.report(), "json") if fmt == "json" else cal.table())


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format of the quantile table.")
@run_options
@click.option("--plot", type=click.Path(dir_okay=False), help="Write fan charts to this PNG.")
@click.option("--out", type=click.Path(dir_okay=False), help="Stream every path to this Parquet file.")
def simulate(spec, fmt, paths, seed, overrides, plot, out):
    """Simulate the gpu-fleet in SPEC: quantiles by date of the index, utilization,
    operating cash flow and collateral value."""
    import gpufin
    from gpufin.output.plots import plot_fan
    sim = gpufin.simulate(spec, spec_overrides(overrides, paths, seed), out_path=out)
    if plot:
        plot_fan(sim.quantiles, plot, f"{spec}: {sim.paths:,} paths, seed {sim.seed}")
    if fmt == "json":
        click.echo(render(sim.to_dict(), "json"))
    elif fmt == "csv":
        click.echo(sim.quantiles.to_csv(index=False).rstrip("\n"))
    else:
        click.echo(sim.quantiles.to_string(index=False, float_format=lambda v: f"{v:.6g}"))


def executor_options(command):
    """--market, --paths, --workers, --scheduler, --checkpoint and --chunk, shared by portfolio
    commands."""
    for option in reversed([
            click.option("--market", "market_file", type=click.Path(dir_okay=False),
                         help="A TOML/JSON market table that replaces every position's market."),
            click.option("--paths", type=int, help="Override mc.paths of every position."),
            click.option("--workers", type=int, help="Start a local Dask cluster with N workers."),
            click.option("--scheduler", help="Use the Dask cluster at this scheduler address."),
            click.option("--checkpoint", type=click.Path(file_okay=False),
                         help="Keep finished chunks here; a rerun computes only what is missing."),
            click.option("--chunk", type=int,
                         help="Positions per chunk, the unit of work, distribution and checkpoints "
                              "(default 256).")]):
        command = option(command)
    return command


@main.command()
def warmup():
    """Compile every kernel now (cached on disk), so that later runs start at once."""
    import gpufin
    total = sum(seconds for _, seconds in gpufin.warm_up(lambda name, s: click.echo(f"{s:7.2f} s  {name}")))
    click.echo(f"{total:7.2f} s  in all")


@main.group()
def portfolio():
    """Value, stress and VaR a book of positions (CSV or Parquet)."""


@portfolio.command("value")
@click.argument("book", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Results file (.csv or .parquet); the summary is written beside it.")
@click.option("--no-greeks", is_flag=True, help="Values only.")
@executor_options
def portfolio_value(book, out, no_greeks, market_file, paths, workers, scheduler, checkpoint, chunk):
    """Value every position of BOOK with its Greeks; print the summary."""
    import gpufin
    _, summary = gpufin.value_book(book, out, market_file, paths, not no_greeks, workers, scheduler, checkpoint,
                            chunk)
    click.echo(summary.to_string(index=False, float_format=lambda v: f"{v:,.6g}"))


@portfolio.command("stress")
@click.argument("book", type=click.Path(dir_okay=False))
@click.option("--scenarios", "scenarios_file", type=click.Path(dir_okay=False),
              help="Scenario file (default: data/scenarios.toml).")
@click.option("--out", type=click.Path(dir_okay=False), help="P&L per position (.csv or .parquet).")
@executor_options
def portfolio_stress(book, scenarios_file, out, market_file, paths, workers, scheduler, checkpoint,
                     chunk):
    """Full revaluation of BOOK under each named scenario: P&L per position and in total."""
    import gpufin
    table = gpufin.stress_book(book, scenarios_file, out, market_file, paths, workers, scheduler, checkpoint,
                        chunk)
    names = [c for c in table.columns if c not in ("id", "book", "counterparty", "sku", "quantity",
                                                  "instrument", "model", "error")]
    totals = table[names].sum(skipna=True)
    click.echo(totals.to_frame("total P&L (USD)").to_string(float_format=lambda v: f"{v:,.0f}"))
    failed = int(table["error"].notna().sum())
    if failed:
        click.echo(f"{failed} position(s) could not be valued; see the error column", err=True)


@portfolio.command("var")
@click.argument("book", type=click.Path(dir_okay=False))
@click.option("--horizon", default="10D", show_default=True, help="Horizon as a tenor (D, W, M, Y).")
@click.option("--level", default=0.99, show_default=True, type=float, help="Confidence level.")
@click.option("--scenarios", "n_scenarios", default=100, show_default=True, type=int,
              help="Simulated risk-factor moves, each a full revaluation.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the moves.")
@click.option("--vol", default=0.5, show_default=True, type=float,
              help="Annual volatility of each SKU's index moves (FACTS.md 8.1).")
@click.option("--correlation", default=0.8, show_default=True, type=float,
              help="Correlation of index moves between SKUs.")
@click.option("--rate-vol", default=0.01, show_default=True, type=float,
              help="Annual volatility of the parallel rate shift.")
@click.option("--plot", type=click.Path(dir_okay=False), help="P&L histogram PNG.")
@click.option("--out", type=click.Path(dir_okay=False), help="P&L per scenario (.csv or .parquet).")
@executor_options
def portfolio_var(book, horizon, level, n_scenarios, seed, vol, correlation, rate_vol, plot, out,
                  market_file, paths, workers, scheduler, checkpoint, chunk):
    """Full-revaluation VaR and ES of BOOK."""
    import gpufin
    from gpufin.spec.times import add_tenor
    start = dt.date(2026, 1, 1)
    days = (add_tenor(start, horizon, "--horizon") - start).days
    result = gpufin.var_book(book, days, level, n_scenarios, seed, vol, correlation, rate_vol, out=out,
                      market_file=market_file,
                      paths=paths, workers=workers, scheduler=scheduler, checkpoint=checkpoint, plot=plot,
                      chunk=chunk)
    click.echo(render(result, "table"))


if __name__ == "__main__":
    main()
