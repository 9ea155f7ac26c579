"""Reading specs: TOML or JSON documents (read by gpufin.spec.files), `--set` overrides and
validation against the schema.

`load_spec` reads a path or a dict, applies overrides and validates every table against
gpufin.spec.schema (unknown keys, wrong types and out-of-range values are errors that name
the key).
"""
from __future__ import annotations

import difflib
import functools
import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, ValidationError

from gpufin.errors import SpecError
from gpufin.spec.files import read_document
from gpufin.spec.schema import INSTRUMENT_SPECS, MODEL_SPECS, TABLES, MarketSpec, MCSpec, Spec, timed


def parse_value(raw: str):
    """A value written as TOML (numbers, strings, lists, dates as ISO strings), else the text.
    A list or table is a new object on every call (callers may change it)."""
    value, text = _parsed(raw)
    return value if text is None else json.loads(text)


@functools.lru_cache(maxsize=4096)
def _parsed(raw: str) -> tuple:
    """parse_value's result, as read back from JSON (cached: a book repeats its cells): (the
    value, None) for a number, string or boolean, which cannot change; (None, its JSON text)
    for a list or table, rebuilt on each call."""
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    text = json.dumps(value, default=str)
    value = json.loads(text)
    return (None, text) if isinstance(value, (list, dict)) else (value, None)


def parse_override(assignment: str) -> tuple[str, object]:
    """`TABLE.KEY=VALUE` -> (TABLE.KEY, value)."""
    key, sep, raw = assignment.partition("=")
    if not sep or "." not in key:
        raise SpecError("--set", f"got {assignment!r}; expected TABLE.KEY=VALUE")
    return key.strip(), parse_value(raw)


def set_key(doc: dict, dotted: str, value) -> None:
    """doc[a][b]... = value for a dotted key, creating tables on the way."""
    path = dotted.split(".")
    node = doc
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SpecError(dotted, "cannot set a key inside a non-table value")
    node[path[-1]] = value


def apply_overrides(doc: dict, overrides) -> dict:
    """A copy of doc with each `TABLE.KEY=VALUE` assignment (or (key, value) pair) applied."""
    doc = json.loads(json.dumps(doc, default=str))
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        set_key(doc, key, value)
    return doc


def suggest(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.4)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown key; {hint}allowed: {', '.join(allowed)}"


def _table(doc: dict, name: str, required: bool) -> dict:
    table = doc.get(name, {} if not required else None)
    if table is None:
        raise SpecError(name, "missing table")
    if not isinstance(table, dict):
        raise SpecError(name, f"got {table!r}; expected a table")
    return table


def _key(name: str, loc: tuple) -> str:
    """model.contracts[0].rate from pydantic's ('contracts', 0, 'rate')."""
    key = name
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else f".{part}"
    return key


def _schema_at(schema: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The nested table class that a pydantic error location points into."""
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = schema.model_fields[part].annotation
        inner = getattr(annotation, "__args__", (annotation,))
        schema = next(a for a in inner if isinstance(a, type) and issubclass(a, BaseModel))
    return schema


def validate_table(name: str, table: dict, schema: type[BaseModel]):
    try:
        return schema.model_validate(table)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _key(name, err["loc"])
        if err["type"] == "extra_forbidden":
            allowed = list(_schema_at(schema, err["loc"][:-1]).model_fields)
            raise SpecError(key, suggest(str(err["loc"][-1]), allowed)) from None
        if err["type"] == "missing":
            raise SpecError(key, "missing; see docs/spec.md for its meaning and unit") from None
        msg = err["msg"].replace("Input should be", "expected").replace("Value error, ", "")
        raise SpecError(key, f"got {err.get('input')!r}; {msg}") from None


def _validate_kind(name: str, table: dict, specs: dict):
    kind = table.get("kind")
    if kind is None:
        raise SpecError(f"{name}.kind", f"missing; expected one of {', '.join(specs)}")
    if kind not in specs:
        raise SpecError(f"{name}.kind", f"got {kind!r}; expected one of {', '.join(specs)}")
    return validate_table(name, table, specs[kind])


def validate(doc: dict, instrument_required: bool = True) -> Spec:
    """A checked Spec from a plain dict (`gpufin simulate` needs no instrument)."""
    unknown = [k for k in doc if k not in TABLES]
    if unknown:
        raise SpecError(unknown[0], suggest(unknown[0], list(TABLES)))
    has_instrument = instrument_required or "instrument" in doc
    return timed(
        model=_validate_kind("model", _table(doc, "model", True), MODEL_SPECS),
        instrument=(_validate_kind("instrument", _table(doc, "instrument", True), INSTRUMENT_SPECS)
                    if has_instrument else None),
        mc=validate_table("mc", _table(doc, "mc", False), MCSpec),
        market=validate_table("market", _table(doc, "market", False), MarketSpec),
    )


def load_spec(spec: dict | str | Path, overrides: list[str] = (),
              instrument_required: bool = True) -> Spec:
    """Read (if a path), override and validate a spec."""
    doc = spec if isinstance(spec, dict) else read_document(spec)
    return validate(apply_overrides(doc, list(overrides)), instrument_required)
