"""A book's per-position Python work made cheaper without changing a bit of what it computes.

Each faster step is compared with a slow reference written out here, as the step was first
written: the timeline (every field's annotation inspected per spec, not once per table class)
on every shipped example, hedge and deal and on each row of the sample book; the book's cell
parsing (TOML, then a JSON round trip per cell); and a position's validated spec (a JSON round
trip, the run's market and path count, load_spec; loans, whose schedule is then written in
and validated by load_spec as before, are left out). Then a book of the sample's non-loan rows
valued with Greeks gives, row by row, exactly the value of `gpufin.price` of the row's spec,
and the same rows (Greeks and stressed values included) as when each position is valued in a
chunk of its own: positions with the same trade, validated and priced once in a chunk, get the
numbers they would get alone.
"""
import datetime as dt
import json
import tomllib
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

import gpufin
from gpufin.portfolio.positions import position_spec
from gpufin.portfolio.scenarios import stress_book
from gpufin.portfolio.value import value_book
from gpufin.spec.book import load_book
from gpufin.spec.files import read_document
from gpufin.spec.reader import load_spec, parse_value
from gpufin.spec.times import TimeKey, resolve

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted([*ROOT.glob("data/examples/*.toml"), *ROOT.glob("data/examples/hedges/*.toml"),
                *ROOT.glob("data/deals/*.toml")])
SAMPLE = ROOT / "data" / "sample_book.csv"
MULTI_INDEX = ROOT / "data" / "examples" / "multi_index.toml"


# ---- references: the steps as first written ----------------------------------------------------

def _reference_time_kind(annotation):
    if typing.get_origin(annotation) is typing.Annotated:
        return "one" if TimeKey in typing.get_args(annotation)[1:] else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args and _reference_time_kind(args[0]) == "one":
        return "list"
    if origin not in (typing.Union, types.UnionType):
        return None
    kinds = {_reference_time_kind(a) for a in args} - {None}
    return kinds.pop() if kinds else None


def _reference_walk(table, key, valuation_date, out):
    for name, info in type(table).model_fields.items():
        value = getattr(table, name)
        where = f"{key}.{name}"
        kind = "one" if TimeKey in info.metadata else _reference_time_kind(info.annotation)
        if kind == "one" and value is not None and not isinstance(value, list):
            out[where] = resolve(value, where, valuation_date)
        elif kind == "list" and isinstance(value, list):
            out[where] = tuple(resolve(v, f"{where}[{i}]", valuation_date) for i, v in enumerate(value))
        elif isinstance(value, BaseModel):
            _reference_walk(value, where, valuation_date, out)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _reference_walk(item, f"{where}[{i}]", valuation_date, out)


def _reference_instants(spec) -> list:
    out = {}
    for name in ("model", "instrument", "mc", "market"):
        table = getattr(spec, name)
        if table is not None:
            _reference_walk(table, name, spec.timeline.valuation_date, out)
    return list(out.items())


def _reference_cell(raw: str):
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return json.loads(json.dumps(value, default=str))


def _reference_spec(doc: dict, options: dict):
    doc = json.loads(json.dumps(doc, default=str))
    if options.get("market") is not None:
        doc["market"] = {**doc.get("market", {}), **options["market"]}
    if options.get("paths") is not None:
        doc.setdefault("mc", {})["paths"] = options["paths"]
    return load_spec(doc)


# ---- the tests ---------------------------------------------------------------------------------

def _sample_positions():
    return [p for p in load_book(SAMPLE, allow_outside=True) if p.error is None]


def _naming(model: dict, index: str | None) -> dict:
    """A multi-index model with an index named `index`: its first renamed if it has none."""
    names = [ix["name"] for ix in model.get("indices", [])]
    if index is None or index in names:
        return model
    for ix in model["indices"]:
        ix["name"] = index if ix["name"] == names[0] else ix["name"]
        ix["basis_of"] = index if ix.get("basis_of") == names[0] else ix.get("basis_of")
    return model


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_timeline_of_every_shipped_spec_as_the_reference(path):
    doc = read_document(path)
    if "model" not in doc:                # a hedge: a model of the index it names, or of one index
        exposure = MULTI_INDEX if "index" in doc["instrument"] else ROOT / "data" / "examples" / "future.toml"
        doc["model"] = _naming(read_document(exposure)["model"], doc["instrument"].get("index"))
        doc.setdefault("market", {"valuation_date": "2026-07-01"})
    spec = load_spec(doc, instrument_required=False)
    instants = list(spec.timeline.instants.items())
    assert instants == _reference_instants(spec)          # same keys, order and instants
    assert instants or path.stem in ("european", "barrier", "jump_diffusion", "schwartz")


def test_timeline_of_index_forward_curves_as_the_reference():
    """Forward curves inside model.indices (a table class declared before ForwardPoint)."""
    doc = read_document(MULTI_INDEX)
    for n, index in enumerate(doc["model"]["indices"]):
        index["forward_curve"] = [{"time": "2026-12-31", "price": 2.3 + n}, {"time": "2Y", "price": 2.1 + n}]
    doc["market"] = {"valuation_date": "2026-07-01"}
    spec = load_spec(doc)
    instants = list(spec.timeline.instants.items())
    assert instants == _reference_instants(spec)
    assert "model.indices[2].forward_curve[1].time" in dict(instants)


def test_timeline_of_the_sample_book_rows_as_the_reference():
    specs = [load_spec(p.doc) for p in _sample_positions()]
    assert len(specs) > 200
    for spec in specs:
        assert list(spec.timeline.instants.items()) == _reference_instants(spec)


CELLS = ["2.4", "-0.13", "1e-3", "7", "call", '"put"', "true", "nan", "inf", "2027-03-31", "18M",
         "[1, 2.5, 3]", "[2027-01-31, 2027-02-28]", '{time = 0.5, price = 2.3}', "a b", "[[1, 0.5], [0.5, 1]]"]


@pytest.mark.parametrize("raw", CELLS)
def test_cells_read_as_the_reference(raw):
    first, again, expected = parse_value(raw), parse_value(raw), _reference_cell(raw)
    assert json.dumps(first) == json.dumps(expected) and type(first) is type(expected)
    if isinstance(first, (list, dict)):                   # a new object each time: callers edit them
        assert first is not again
        first.clear()
        assert json.dumps(parse_value(raw)) == json.dumps(expected)


def test_position_specs_as_the_reference(tmp_path):
    market = tmp_path / "market.toml"
    market.write_text("[market]\nvaluation_date = 2026-07-01\n[market.curve]\nkind = \"flat\"\nrate = 0.035\n")
    assert isinstance(read_document(market)["market"]["valuation_date"], dt.date)
    with_market = {"market": read_document(market)["market"], "paths": 2_000}
    for options in ({"market": None, "paths": None}, with_market):
        for pos in [p for p in _sample_positions() if p.doc["instrument"]["kind"] != "loan"][::7]:
            assert position_spec(pos, options) == _reference_spec(pos.doc, options)


def _sample_subset(tmp_path: Path) -> Path:
    """Every sixth non-loan row of the sample book, then its first ten again under new ids
    and quantities: the same trades in several rows, as in the sample itself."""
    lines = SAMPLE.read_text().splitlines()
    rows = [r for r in lines[1:] if ".toml" not in r][::6]
    again = [f"{r.split(',', 1)[0]}-again,{n - 3}," + r.split(",", 2)[2] for n, r in enumerate(rows[:10])]
    book = tmp_path / "book.csv"
    book.write_text("\n".join([lines[0], *rows, *again]) + "\n")
    return book


COLUMNS = ["unit_value", "value", "stderr", "delta", "gamma", "vega", "dv01", "error"]


def test_book_rows_are_the_prices_of_their_specs(tmp_path):
    """Each row's value is gpufin.price's of its spec, bit for bit; and each row, Greeks
    included, is what it is when valued alone (one position per chunk: nothing shared)."""
    book = _sample_subset(tmp_path)
    results, _ = value_book(book, paths=2_000, greeks=True)
    assert results["error"].isna().all() and len(results) > 40
    for pos, (_, row) in zip(load_book(book), results.iterrows()):
        alone = gpufin.price(dict(pos.doc, mc={**pos.doc.get("mc", {}), "paths": 2_000}))
        assert row["unit_value"] == alone["value"], pos.id                 # bit for bit
        assert row["stderr"] == abs(pos.quantity) * alone["stderr"], pos.id
    one_by_one, _ = value_book(book, paths=2_000, greeks=True, chunk=1)
    assert json.dumps(results[COLUMNS].values.tolist()) == json.dumps(one_by_one[COLUMNS].values.tolist())


def test_stressed_rows_as_when_valued_alone(tmp_path):
    book = _sample_subset(tmp_path)
    together, alone = (stress_book(book, paths=2_000, chunk=chunk) for chunk in (None, 1))
    names = list(together.columns[together.columns.get_loc("error") + 1:])
    assert together["error"].isna().all() and len(names) >= 5
    assert json.dumps(together[names].values.tolist()) == json.dumps(alone[names].values.tolist())
