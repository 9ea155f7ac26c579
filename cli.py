"""The `gpufin` command. It only parses, calls gpufin's Python API and formats.

gpufin itself (and with it numba, QuantLib, pandas) is imported inside the commands, and
matplotlib only when a plot is asked for, so `gpufin --help` stays fast (tests/test_cli.py
guards it); every other module imports at its top. User mistakes print one line,
`error: KEY: PROBLEM`, and exit with status 2; a bug prints one `internal error` line (the
traceback with `--debug`) and exits with status 1. No output (`--out`, `--plot`) may be an
input of the run.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

FORMATS = ("table", "json", "csv")
FORMAT_HELP = "Output format: aligned tables with units, or JSON / CSV at full precision in raw units."
OUT_SUFFIXES = {"price": (".json", ".csv", ".xlsx"), "simulate": (".parquet", ".xlsx"),
                "calibrate": (".toml",), "grid": (".csv", ".json", ".xlsx"), "plot": (".png", ".svg", ".pdf"),
                "hedge": (".json", ".csv")}


def format_option(command):
    """--format, the same in every command."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True, help=FORMAT_HELP)(command)


def check_out(out: str | None, command: str, key: str = "--out"):
    """Refuses an output file whose extension `command` cannot write, before any work."""
    from gpufin.errors import SpecError
    if out and Path(out).suffix.lower() not in OUT_SUFFIXES[command]:
        *rest, last = OUT_SUFFIXES[command]
        expected = f"{', '.join(rest)} or {last}" if rest else last
        raise SpecError(key, f"got {out!r}; expected a {expected} file")


def check_outputs(inputs, out=None, plot=None, command=None):
    """Before any work: --out and --plot of the right kind, and neither an input of the run."""
    from gpufin.output.files import not_an_input
    if command:
        check_out(out, command)
    check_out(plot, "plot", "--plot")
    not_an_input(out, inputs, "--out")
    not_an_input(plot, inputs, "--plot")


def spec_inputs(spec, overrides) -> dict:
    """The spec document as read, with the overrides applied (the inputs sheet of a workbook)."""
    from gpufin.spec.files import read_document
    from gpufin.spec.reader import apply_overrides
    return apply_overrides(read_document(spec), list(overrides))


class _Group(click.Group):
    """A SpecError is a user's mistake: one line, exit status 2. Any other exception is a bug:
    one `internal error` line and exit status 1, or the traceback with --debug."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            errors = sys.modules.get("gpufin.errors")     # loaded by any command that ran
            if errors is not None and isinstance(exc, errors.SpecError):
                click.echo(f"error: {exc}", err=True)
                sys.exit(2)
            if ctx.params.get("debug"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc} (a bug in gpufin; rerun with "
                       "--debug for the traceback)", err=True)
            sys.exit(1)


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
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error.")
def main(debug):
    """gpufin: price compute derivatives and GPU-backed loans by Monte Carlo."""


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@format_option
@run_options
@click.option("--method", type=click.Choice(["auto", "mc", "analytic"]),
              help="Set mc.method: auto (closed form where one exists), mc or analytic.")
@click.option("--solve", type=click.Choice(["spread"]),
              help="Solve a loan's spread over SOFR for a price of par.")
@click.option("--greeks", is_flag=True,
              help="Add delta and vega with their standard errors: pathwise (Monte Carlo) or "
                   "from the closed form.")
@click.option("--measures", is_flag=True,
              help="A loan under both measures: rating view, discount margin and CS01, "
                   "risk-neutral price and fair spreads, spread decomposition (docs/loans.md).")
@click.option("--loan-greeks", is_flag=True,
              help="A loan's Greeks on common random numbers with standard errors: DV01, CS01, "
                   "PD01 and jump-to-default per customer and platform, rent level and trend, "
                   "launch timing, residual, haircut, lag (docs/loans.md, \"Loan Greeks\").")
@click.option("--jtd-at", type=float, metavar="YEARS",
              help="With --loan-greeks: also jump-to-default at this time (years) of the loan's life.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Also write the result to this .json, .csv or .xlsx file.")
def price(spec, fmt, paths, seed, overrides, method, solve, greeks, measures, loan_greeks, jtd_at, out):
    """Value the trade described by SPEC (a TOML or JSON file)."""
    import gpufin
    from gpufin.output.excel import key_values, result_sheets, write_excel
    from gpufin.output.files import write_atomic
    from gpufin.output.tables import format_result
    check_outputs([spec], out, command="price")
    assignments = spec_overrides(overrides, paths, seed) + [f"mc.method={method}"] * (method is not None)
    if measures and (solve or greeks):
        raise click.UsageError("--measures already solves the fair spreads; it takes neither --solve nor --greeks")
    if loan_greeks and (measures or solve or greeks):
        raise click.UsageError("--loan-greeks takes none of --measures, --solve, --greeks")
    if jtd_at is not None and not loan_greeks:
        raise click.UsageError("--jtd-at is a date of --loan-greeks; add --loan-greeks")
    if loan_greeks:
        from gpufin.risk.loan_greeks import loan_greeks as value_greeks
        result = value_greeks(spec, assignments, at=jtd_at)
    elif measures:
        from gpufin.credit.measures import loan_measures
        result = loan_measures(spec, assignments)
    else:
        result = gpufin.solve_spread(spec, assignments) if solve else gpufin.price(spec, assignments, greeks=greeks)
    if result.get("greeks_method") == "bump":
        click.echo("note: no pathwise or closed-form delta and vega for this trade (not smooth); "
                   "`gpufin portfolio value` bumps and revalues it", err=True)
    if (paths is not None or seed is not None) and result["method"] == "analytic" and method != "analytic":
        click.echo("note: closed form used; --paths/--seed ignored (use --method mc)", err=True)
    if out and Path(out).suffix.lower() == ".xlsx":
        write_excel(out, {**result_sheets(result), "inputs": key_values(spec_inputs(spec, assignments))})
    elif out:
        write_atomic(Path(out), format_result(result, Path(out).suffix.lower().lstrip(".")) + "\n")
    click.echo(format_result(result, fmt))


@main.command()
@click.argument("history", type=click.Path(dir_okay=False))
@click.option("--sku", help="Use only the rows of this SKU (files with a sku column; default for "
                            "the posterior fit: the SKU with the most rows).")
@click.option("--basis", "bases", multiple=True,
              help="Use only the quotes of this price basis (repeatable; default for the "
                   "posterior fit: every basis; --method mle takes one).")
@click.option("--base", help="The basis whose index is priced and written by --out (default: spot "
                             "if quoted, else the basis with the most quotes).")
@click.option("--method", type=click.Choice(["map", "mle"]), default="map", show_default=True,
              help="map: the posterior mode under the documented priors, every basis an index of "
                   "its own (docs/calibration.md); mle: maximum likelihood on one series.")
@click.option("--fix", "fixes", multiple=True, metavar="NAME=VALUE",
              help="Hold a parameter at VALUE: kappa, sigma_chi, sigma_xi, rho, mu_xi, sigma_eps "
                   "or its spec key (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write the fitted [model] table to this TOML file.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Draw observed and filtered log prices to this PNG file.")
@format_option
def calibrate(history, sku, bases, base, method, fixes, out, plot, fmt):
    """Fit the Schwartz-Smith index model to a price HISTORY (CSV: date, level_usd_per_gpu_hour,
    optional sku and basis) by its exact state-space likelihood: by default the posterior mode
    (MAP) under documented priors, with every basis an index of its own; print the estimates."""
    # OpenBLAS on one thread unless told otherwise, set before numpy loads it: the fit's linear
    # algebra is on a few states, and a pool of spinning threads costs ~0.2 s of CPU a run
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import pandas as pd
    from gpufin.errors import SpecError
    from gpufin.market.data import load_history
    from gpufin.models.calibration import PARAMETERS, SPEC_KEYS, UNITS, parse_fix, select_history, write_model
    from gpufin.models.calibration_bases import calibrate_history
    from gpufin.output.tables import format_frame, format_result, frame_tables, render, result_tables
    check_outputs([history], out, plot, command="calibrate")
    fixed = parse_fix(fixes)
    frame = load_history(history)
    if method == "mle":
        if len(bases) > 1 or base:
            raise SpecError("--basis", f"got {', '.join(bases) or base}; --method mle fits one "
                                       "series: give at most one --basis and no --base")
        from gpufin.models.calibration_mle import calibrate as fit_mle     # numba's filter
        cal = fit_mle(select_history(frame, sku, bases[0] if bases else None, history), fixed)
        label = sku
    else:
        cal = calibrate_history(frame, sku, bases, base, fixed, source=history)
        label = f"{cal.sku + ' ' if cal.sku else ''}{cal.base}, basis-adjusted quotes"
    if out:
        write_model(cal, out, source=Path(history).name + (f" (sku {sku})" if sku else ""))
    if plot:
        from gpufin.output.plots import plot_calibration
        plot_calibration(cal, plot, label=label or Path(history).name)
    report = cal.report()
    if fmt == "json":
        click.echo(format_result(report, "json"))
        return
    if method == "mle":
        fit = pd.DataFrame({"parameter": PARAMETERS, "spec_key": [SPEC_KEYS[p] or "" for p in PARAMETERS],
                            "estimate": [report["estimates"][p] for p in PARAMETERS],
                            "estimate_stderr": [report["stderr"][p] for p in PARAMETERS],
                            "unit": [UNITS[p] for p in PARAMETERS],
                            "fit": ["fixed" if p in cal.fixed else "free" for p in PARAMETERS]})
        title = "Schwartz-Smith estimates"
        stats = {"loglik": report["loglik"], "n_obs": report["n_obs"],
                 "period": f"{report['start_date']} to {report['end_date']}",
                 "short_factor": float(cal.chi[-1])}
    else:
        fit = pd.DataFrame([{"parameter": r["name"], "spec_key": SPEC_KEYS.get(r["name"]) or "",
                             "prior": r["prior"], "prior_sd": r["prior_sd"],
                             "posterior": r["posterior"], "posterior_sd": r["posterior_sd"],
                             "unit": r["unit"], "fit": r["status"]} for r in report["parameters"]])
        title = f"Schwartz-Smith posterior mode (MAP), base index {cal.base}"
        stats = {"sku": cal.sku or "", "quotes": ", ".join(f"{b} {n}" for b, n in cal.counts.items()),
                 "period": f"{report['start_date']} to {report['end_date']}",
                 "loglik": cal.loglik, "log_posterior": cal.log_posterior, "n_obs": cal.n_obs,
                 "spot": cal.base_level_usd_per_gpu_hour, "short_factor": cal.short_factor}
    if fmt == "csv":
        click.echo(format_frame(fit, "csv"))
        return
    click.echo(render(frame_tables(fit, title=title)
                      + result_tables(stats, title="fit (short_factor: filtered chi on the last date)")))


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@format_option
@run_options
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Write fan charts (index, utilization, cash flow, collateral value) to this PNG.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Stream every path to this .parquet file, or write the quantiles to this .xlsx workbook.")
def simulate(spec, fmt, paths, seed, overrides, plot, out):
    """Simulate the gpu-fleet in SPEC: quantiles by date of the index, utilization,
    operating cash flow and collateral value."""
    import gpufin
    from gpufin.output.excel import key_values, write_excel
    from gpufin.output.tables import format_frame, format_result
    check_outputs([spec], out, plot, command="simulate")
    workbook = out and Path(out).suffix.lower() == ".xlsx"
    assignments = spec_overrides(overrides, paths, seed)
    sim = gpufin.simulate(spec, assignments, out_path=None if workbook else out)
    if workbook:
        write_excel(out, {"results": sim.quantiles, "inputs": key_values(spec_inputs(spec, assignments))})
    if plot:
        from gpufin.output.plots import plot_fan
        plot_fan(sim.quantiles, plot, f"{spec}: {sim.paths:,} paths, seed {sim.seed}")
    if fmt == "json":
        click.echo(format_result(sim.to_dict(), "json"))
    else:
        click.echo(format_frame(sim.quantiles, fmt, group="series"))


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--vary", "vary", multiple=True, required=True, metavar="KEY=START:STOP:N",
              help="A spec key and its N values from START to STOP (once or twice: a 1-D or 2-D grid).")
@click.option("--field", default="value", show_default=True,
              help="The result field to tabulate: value, price_pct, pd, expected_loss, spread, ...")
@format_option
@run_options
@click.option("--out", type=click.Path(dir_okay=False), help="Write the grid to this .csv, .json or .xlsx file.")
@click.option("--plot", type=click.Path(dir_okay=False), help="A line (1-D) or heat map (2-D) PNG or SVG.")
def grid(spec, vary, field, fmt, paths, seed, overrides, out, plot):
    """Revalue SPEC over a grid of one or two keys, every point on common random numbers."""
    import gpufin
    from gpufin.output.excel import key_values, write_excel
    from gpufin.output.files import write_atomic
    from gpufin.output.grid_plots import plot_grid
    from gpufin.output.tables import format_frame
    check_outputs([spec], out, plot, command="grid")
    assignments = spec_overrides(overrides, paths, seed)
    frame = gpufin.grid(spec, list(vary), field, assignments)
    if out and Path(out).suffix.lower() == ".xlsx":
        write_excel(out, {"results": frame, "inputs": key_values(spec_inputs(spec, assignments))})
    elif out:
        write_atomic(Path(out), format_frame(frame, Path(out).suffix.lower().lstrip(".")) + "\n")
    if plot:
        plot_grid(frame, field, plot)
    click.echo(format_frame(frame, fmt))


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@run_options
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Write the report to this .html (one self-contained file) or .pdf file.")
def report(spec, paths, seed, overrides, out):
    """Write a deal report of the loan in SPEC for credit analysts: terms, collateral and
    market inputs with their sources, value, price, PD, EL, LGD, WAL and fair spread, LTV and
    DSCR fan charts, the loss distribution, stress scenarios and a sensitivity grid."""
    import shlex
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from gpufin.report.build import STEPS, check_out, write_report
    check_out(out)
    check_outputs([spec], out)
    command = "gpufin " + shlex.join(sys.argv[1:])
    console = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(STEPS[0], total=len(STEPS))
        written = write_report(spec, out, spec_overrides(overrides, paths, seed), command,
                               lambda step: bar.update(task, description=step, completed=STEPS.index(step)))
    click.echo(f"wrote {written}")


@main.command("hedge")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--hedge", "hedges", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="A candidate: a derivative spec on the exposure's index (repeatable; without "
                   "[model] or [market] it takes the exposure's).")
@click.option("--horizon", default="1Y", show_default=True,
              help="P&L horizon: a tenor from the valuation date (D, W, M, Y) or years.")
@click.option("--objective", type=click.Choice(["variance", "es"]), default="variance", show_default=True,
              help="Minimize the hedged P&L's variance (least squares) or its 99% ES (a linear programme).")
@format_option
@run_options
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the result to this .json or .csv file.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="P&L distributions unhedged and hedged, and P&L against the index level (PNG).")
def hedge_command(spec, hedges, horizon, objective, fmt, paths, seed, overrides, out, plot):
    """Hedge the exposure in SPEC (a loan, a gpu-fleet alone, or a derivative) with the
    candidates on common paths: quantities, variance and 99% ES unhedged and hedged, hedge
    effectiveness (R^2, slope, dollar offset), the loan's hedged PD and EL (docs/hedging.md)."""
    import gpufin
    from gpufin.hedge.plot import plot_hedge
    from gpufin.output.files import write_atomic
    from gpufin.output.tables import format_result
    check_outputs([spec, *hedges], out, plot, command="hedge")
    run = gpufin.hedge_exposure(spec, list(hedges), horizon, objective, spec_overrides(overrides, paths, seed))
    if out:
        write_atomic(Path(out), format_result(run.result, Path(out).suffix.lower().lstrip(".")) + "\n")
    if plot:
        plot_hedge(run, plot, f"{spec}: {run.result['paths']:,} paths, seed {run.result['seed']}, "
                              f"minimum {objective}")
    click.echo(format_result(run.result, fmt))


def book_title(book, paths) -> str:
    """A chart's title: the book, and the path count when --paths sets it."""
    return str(book) + (f", {paths:,} paths" if paths else "")


def note_failures(rows) -> None:
    """A note on stderr of the positions that could not be valued (their `error` column)."""
    failed = int(rows["error"].notna().sum())
    if failed:
        click.echo(f"note: {failed} position(s) could not be valued; see the error column", err=True)


def executor_options(command, paths_help: str = "Override mc.paths of every position.",
                     chunk_help: str = "Positions per chunk, the unit of work, distribution and checkpoints "
                                       "(default 256)."):
    """--market, --paths, --workers, --scheduler, --checkpoint, --chunk and --allow-outside,
    shared by portfolio commands (a command whose --paths or --chunk means something else
    passes its own help)."""
    for option in reversed([
            click.option("--market", "market_file", type=click.Path(dir_okay=False),
                         help="A TOML/JSON market table that replaces every position's market."),
            click.option("--paths", type=int, help=paths_help),
            click.option("--workers", type=int, help="Start a local Dask cluster with N workers."),
            click.option("--scheduler", help="Use the Dask cluster at this scheduler address."),
            click.option("--checkpoint", type=click.Path(file_okay=False),
                         help="Keep finished chunks here; a rerun computes only what is missing."),
            click.option("--chunk", type=int, help=chunk_help),
            click.option("--allow-outside", is_flag=True,
                         help="Accept spec files outside the book's folder (links and .. resolved).")]):
        command = option(command)
    return command


def credit_executor_options(command):
    """executor_options of `portfolio credit`, whose unit of work is a range of paths."""
    return executor_options(command, paths_help="Paths of the book's joint simulation (default 20,000).",
                            chunk_help="Paths per chunk, the unit of work, distribution and checkpoints "
                                       "(default 10,000).")


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
@format_option
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write the results (.csv or .parquet, the summary beside them; or .xlsx, one sheet each).")
@click.option("--no-greeks", is_flag=True, help="Values only.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Bar chart PNG of value and delta by SKU.")
@executor_options
def portfolio_value(book, fmt, out, no_greeks, plot, market_file, paths, workers, scheduler, checkpoint,
                    chunk, allow_outside):
    """Value every position of BOOK with its Greeks; print the summary."""
    import gpufin
    from gpufin.output.tables import format_frame
    check_outputs([book, market_file], out, plot)
    results, summary = gpufin.value_book(book, out, market_file, paths, not no_greeks, workers, scheduler,
                                         checkpoint, chunk, allow_outside=allow_outside)
    if plot:
        from gpufin.output.plots import plot_book_values
        plot_book_values(summary, plot, book_title(book, paths))
    click.echo(format_frame(summary, fmt, group="by"))
    note_failures(results)


@portfolio.command("stress")
@click.argument("book", type=click.Path(dir_okay=False))
@format_option
@click.option("--scenarios", "scenarios_file", type=click.Path(dir_okay=False),
              help="Scenario file (default: data/scenarios.toml).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="P&L per position (.csv, .parquet, or .xlsx with the totals and inputs).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Bar chart PNG of the P&L by scenario.")
@executor_options
def portfolio_stress(book, fmt, scenarios_file, out, plot, market_file, paths, workers, scheduler,
                     checkpoint, chunk, allow_outside):
    """Full revaluation of BOOK under each named scenario: P&L per position and in total."""
    import gpufin
    from gpufin.output.tables import format_frame
    from gpufin.portfolio.scenarios import stress_totals
    check_outputs([book, market_file, scenarios_file], out, plot)
    table = gpufin.stress_book(book, scenarios_file, out, market_file, paths, workers, scheduler,
                               checkpoint, chunk, allow_outside=allow_outside)
    totals = stress_totals(table)
    if plot:
        from gpufin.output.plots import plot_stress
        plot_stress(totals.set_index("scenario")["pnl"], plot, f"P&L by scenario, {book_title(book, paths)}")
    click.echo(format_frame(totals, fmt, title="total P&L by scenario"))
    note_failures(table)


@portfolio.command("var")
@click.argument("book", type=click.Path(dir_okay=False))
@format_option
@click.option("--horizon", default="10D", show_default=True, help="Horizon as a tenor (D, W, M, Y).")
@click.option("--level", default=0.99, show_default=True, type=float, help="Confidence level.")
@click.option("--n-scenarios", "n_scenarios", default=100, show_default=True, type=int,
              help="Simulated risk-factor moves, each a full revaluation.")
@click.option("--scenarios", "renamed", hidden=True, is_flag=False, flag_value="",
              help="Renamed --n-scenarios.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the moves.")
@click.option("--vol", type=float,
              help="Override: every SKU's index moves lognormally at this annual volatility "
                   "(default: each SKU's own model).")
@click.option("--correlation", type=float,
              help="Override: correlation of index moves between SKUs (default: "
                   "data/market.toml [risk].index_correlation).")
@click.option("--rate-vol", type=float,
              help="Override: annual normal volatility of the parallel rate shift, decimal "
                   "(default: data/market.toml [risk].rate_vol).")
@click.option("--plot", type=click.Path(dir_okay=False), help="P&L histogram PNG.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="P&L per scenario (.csv, .parquet, or .xlsx with the summary and inputs).")
@executor_options
def portfolio_var(book, fmt, horizon, level, n_scenarios, renamed, seed, vol, correlation, rate_vol, plot,
                  out, market_file, paths, workers, scheduler, checkpoint, chunk, allow_outside):
    """Full-revaluation VaR and ES of BOOK; each SKU's index moves as its own model says."""
    import gpufin
    from gpufin.output.tables import format_result
    from gpufin.spec.times import add_tenor
    if renamed is not None:
        raise gpufin.SpecError("--scenarios", "renamed; use --n-scenarios N")
    check_outputs([book, market_file], out, plot)
    start = dt.date(2026, 1, 1)
    days = (add_tenor(start, horizon, "--horizon") - start).days
    result = gpufin.var_book(book, days, level, n_scenarios, seed, vol, correlation, rate_vol, out=out,
                             market_file=market_file, paths=paths, workers=workers, scheduler=scheduler,
                             checkpoint=checkpoint, plot=plot, chunk=chunk, allow_outside=allow_outside)
    click.echo(format_result(result, fmt))


@portfolio.command("credit")
@click.argument("book", type=click.Path(dir_okay=False))
@format_option
@click.option("--horizon", default="1Y", show_default=True,
              help="Loss to this tenor (1Y, 6M, ...) or over the loans' lives (life).")
@click.option("--level", default=0.99, show_default=True, type=float, help="Confidence level of VaR and ES.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the book's paths.")
@click.option("--default", "defaults", multiple=True, metavar="NAME",
              help="Also run the book with this customer or platform in default today (repeatable).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Loss histogram and ES contributions PNG.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Contributions (.csv or .parquet, the other tables beside them; or .xlsx, one sheet each).")
@credit_executor_options
def portfolio_credit(book, fmt, horizon, level, seed, defaults, plot, out, market_file, paths, workers,
                     scheduler, checkpoint, chunk, allow_outside):
    """Credit loss of the GPU loans of BOOK, simulated jointly (real-world measure): EL, VaR, ES,
    P(k or more defaults), Euler contributions to ES, concentration."""
    import gpufin
    from gpufin.output.tables import format_result
    check_outputs([book, market_file], out, plot)
    run = gpufin.credit_book(book, horizon, level, paths, seed, defaults, market_file, workers, scheduler,
                             checkpoint, chunk, allow_outside, out, plot)
    tables = {"contributions": run.contributions.to_dict(orient="records"),
              **({"scenarios": run.scenarios.to_dict(orient="records")} if run.scenarios is not None else {})}
    click.echo(format_result({**run.result, **tables}, fmt))
    if run.left_out:
        click.echo(f"note: {len(run.left_out)} row(s) left out: " +
                   "; ".join(f"{i} ({reason})" for i, reason in run.left_out), err=True)


def run():
    """The `gpufin` command: `main`, announcing kernel compilations on stderr
    (pricing_kernels.notice)."""
    os.environ.setdefault("GPUFIN_COMPILE_NOTICE", "1")
    main()


if __name__ == "__main__":
    run()
