"""The `gpufin` command. It only parses, calls gpufin's Python API and formats.

Heavy modules (numba, QuantLib) are imported inside the commands, so `gpufin --help`
stays fast. User mistakes print one line, `error: KEY: PROBLEM`, and exit with status 2.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sys

import click

from gpufin.errors import SpecError

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
        except SpecError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="gpufin")
def main():
    """gpufin: price compute derivatives and GPU-backed loans by Monte Carlo."""


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@click.option("--paths", type=int, help="Override mc.paths.")
@click.option("--seed", type=int, help="Override mc.seed.")
@click.option("--set", "overrides", multiple=True, metavar="TABLE.KEY=VALUE",
              help="Override any spec key; VALUE is read as TOML (repeatable).")
def price(spec, fmt, paths, seed, overrides):
    """Value the trade described by SPEC (a TOML or JSON file)."""
    from gpufin.pricing import price as price_spec
    overrides = list(overrides)
    if paths is not None:
        overrides.append(f"mc.paths={paths}")
    if seed is not None:
        overrides.append(f"mc.seed={seed}")
    click.echo(render(price_spec(spec, overrides), fmt))


if __name__ == "__main__":
    main()
