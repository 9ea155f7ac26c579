"""Books read row by row: a row with the wrong number of cells is an error row (never
shifted), a misspelt column stops the book with a suggestion, every row is checked as
`gpufin price` checks it whether or not Greeks are asked for, repeated ids are flagged, and an
empty book is a clear error. A row's spec file must lie under the book's folder (unless
allowed), and a book passes the one size- and encoding-checked reader of every file."""
import csv
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
import gpufin
from gpufin.spec import files

HEADER = "id,quantity,model.kind,model.spot,model.vol,model.rate,instrument.kind,instrument.option,instrument.strike,instrument.maturity"
ROW = "{id},1,gbm,2.4,0.5,0.04,european,call,2.5,1.0"


def book(tmp_path, *lines, header=HEADER):
    path = tmp_path / "book.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_a_row_with_extra_cells_is_an_error_row_not_a_shifted_one(tmp_path):
    results, _ = gpufin.value_book(book(tmp_path, ROW.format(id="A"), ROW.format(id="B") + ",9.9",
                                        ROW.format(id="C")), tmp_path / "out.csv", greeks=False)
    errors = results.set_index("id")["error"]
    assert errors["B"].startswith("line 3: 11 cells; expected 10")
    assert errors[["A", "C"]].isna().all()


@pytest.mark.parametrize("greeks", [True, False])
def test_every_row_is_checked_as_price_checks_it(tmp_path, greeks):
    path = book(tmp_path, ROW.format(id="A").replace(",2.4,", ",,"))      # no model.spot
    results, _ = gpufin.value_book(path, tmp_path / "out.csv", greeks=greeks)
    assert results.loc[0, "error"].startswith("model.spot: missing")


def test_a_misspelt_column_stops_the_book_with_a_suggestion(tmp_path):
    path = book(tmp_path, ROW.format(id="A"), header=HEADER.replace("model.spot", "modle.spot"))
    with pytest.raises(gpufin.SpecError, match="column 'modle.spot'.*did you mean 'model'"):
        gpufin.value_book(path, tmp_path / "out.csv")


def test_repeated_ids_are_flagged(tmp_path):
    with pytest.warns(UserWarning, match="ids used more than once: A"):
        results, _ = gpufin.value_book(book(tmp_path, ROW.format(id="A"), ROW.format(id="A"),
                                            ROW.format(id="B")), tmp_path / "out.csv", greeks=False)
    assert results["duplicate_id"].tolist() == [True, True, False]


@pytest.mark.parametrize("lines", [[], [""]], ids=["header only", "blank rows"])
def test_a_book_without_positions_is_a_clear_error(tmp_path, lines):
    with pytest.raises(gpufin.SpecError, match="no positions"):
        gpufin.value_book(book(tmp_path, *lines), tmp_path / "out.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(gpufin.SpecError, match="empty"):
        gpufin.value_book(tmp_path / "empty.csv", tmp_path / "out.csv")


SPEC = Path(__file__).resolve().parents[1] / "data" / "examples" / "european.toml"


@pytest.fixture
def folder(tmp_path):
    """A book's folder, `books/`, with a spec in a subfolder and a link to a spec beside it."""
    books = tmp_path / "books"
    (books / "sub").mkdir(parents=True)
    (books / "sub" / "inside.toml").write_text(SPEC.read_text())
    (tmp_path / "outside.toml").write_text(SPEC.read_text())
    (books / "link.toml").symlink_to(tmp_path / "outside.toml")
    return books


def spec_book(folder, specs: dict):
    path = folder / "book.csv"
    path.write_text("id,quantity,spec\n" + "".join(f"{pid},1,{spec}\n" for pid, spec in specs.items()))
    return path


def outside_specs(folder) -> dict:
    """Rows whose spec leaves the book's folder: by `..`, by an absolute path, by a link."""
    return {"parent": "../outside.toml", "absolute": str(folder.parent / "outside.toml"), "link": "link.toml"}


INSIDE = {"sub": "sub/inside.toml", "round-trip": "sub/../sub/inside.toml"}


def test_a_spec_outside_the_books_folder_is_an_error_row_and_the_others_are_valued(folder):
    results, summary = gpufin.value_book(spec_book(folder, {**outside_specs(folder), **INSIDE}), greeks=False)
    rows = results.set_index("id")
    base, target = folder.resolve(), (folder.parent / "outside.toml").resolve()
    for line, (pid, spec) in enumerate(outside_specs(folder).items(), start=2):
        assert rows.loc[pid, "error"] == (
            f"line {line}, spec: {spec!r} leaves the book's folder {base} (got {target}; "
            "expected a file under the book's folder, or --allow-outside)")
    assert rows.loc[list(INSIDE), "error"].isna().all() and (rows.loc[list(INSIDE), "value"] > 0).all()
    assert summary.set_index("by").loc["total", "errors"] == 3


def test_allow_outside_accepts_specs_anywhere(folder):
    results, _ = gpufin.value_book(spec_book(folder, {**outside_specs(folder), **INSIDE}), greeks=False,
                                   allow_outside=True)
    assert results["error"].isna().all() and results["value"].nunique() == 1


def test_stress_and_var_refuse_or_allow_the_same_rows(folder):
    book = spec_book(folder, {"parent": "../outside.toml", **INSIDE})
    assert gpufin.stress_book(book, paths=64)["error"].notna().tolist() == [True, False, False]
    assert gpufin.stress_book(book, paths=64, allow_outside=True)["error"].isna().all()
    assert gpufin.var_book(book, scenarios=4, paths=64)["errors"] == 1
    assert gpufin.var_book(book, scenarios=4, paths=64, allow_outside=True)["errors"] == 0


@pytest.mark.parametrize("command", ["value", "stress", "var"])
def test_every_portfolio_command_has_allow_outside(command):
    result = CliRunner().invoke(cli.main, ["portfolio", command, "--help"])
    assert result.exit_code == 0 and "--allow-outside" in result.output


def test_allow_outside_on_the_command_line(folder):
    book = spec_book(folder, {"parent": "../outside.toml", **INSIDE})
    out = folder.parent / "results.csv"
    for flags, errors in (([], 1), (["--allow-outside"], 0)):
        result = CliRunner().invoke(cli.main, ["portfolio", "value", str(book), "--no-greeks", "--out",
                                               str(out), *flags])
        assert result.exit_code == 0, result.output
        assert pd.read_csv(out)["error"].notna().sum() == errors


def test_a_spec_that_is_a_folder_or_a_loop_of_links_is_an_error_row(folder):
    (folder / "dir.toml").mkdir()
    (folder / "a.toml").symlink_to(folder / "b.toml")
    (folder / "b.toml").symlink_to(folder / "a.toml")
    results, _ = gpufin.value_book(spec_book(folder, {"dir": "dir.toml", "loop": "a.toml", **INSIDE}),
                                   greeks=False)
    errors = results.set_index("id")["error"]
    assert errors["dir"].endswith("dir.toml: not a regular file (got a folder; expected a TOML document)")
    assert errors["loop"] == "line 3, spec: 'a.toml' is a loop of symbolic links (expected a file under the book's folder)"
    assert errors[list(INSIDE)].isna().all()


def test_a_binary_book_is_one_line(tmp_path):
    path = tmp_path / "book.csv"
    path.write_bytes(HEADER.encode() + b"\n" + bytes(range(256)))
    with pytest.raises(gpufin.SpecError) as err:
        gpufin.value_book(path)
    assert str(err.value) == (f"{path}: not UTF-8 text (got byte 0x00 at offset {len(HEADER) + 1}, as in a "
                              "binary file; expected a CSV table)")


def test_an_oversized_book_is_refused_before_parsing(tmp_path, monkeypatch):
    path = book(tmp_path, ROW.format(id="A"))
    monkeypatch.setitem(files.MAX_BYTES, "CSV table", 64)
    monkeypatch.setattr(csv, "reader", None)            # parsing would fail with a TypeError
    with pytest.raises(gpufin.SpecError) as err:
        gpufin.value_book(path)
    size = path.stat().st_size
    assert str(err.value) == f"{path}: too large (got {size:,} bytes; expected a CSV table of at most 64 bytes)"


def test_a_parquet_book_with_typed_columns_values_as_its_csv(tmp_path):
    path = book(tmp_path, ROW.format(id="A"), ROW.format(id="B").replace(",2.5,", ",,"),
                ROW.format(id="C").replace(",2.5,", ",3.0,"))
    typed = tmp_path / "typed.parquet"
    pd.read_csv(path).to_parquet(typed)         # numbers as numbers, the empty strike as NaN
    assert pd.read_parquet(typed)["instrument.strike"].dtype == float
    from_csv, _ = gpufin.value_book(path, greeks=False)
    from_parquet, _ = gpufin.value_book(typed, greeks=False)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert from_csv.set_index("id").loc["B", "error"].startswith("instrument.strike: missing")


def test_a_book_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "book.csv"
    path.write_text("\N{BYTE ORDER MARK}" + HEADER + "\n" + ROW.format(id="A") + "\n", encoding="utf-8")
    results, _ = gpufin.value_book(path, greeks=False)
    assert results.loc[0, "id"] == "A" and results.loc[0, "value"] > 0


def test_parquet_books_pass_the_same_reader(tmp_path, monkeypatch):
    path = tmp_path / "book.parquet"
    pd.read_csv(book(tmp_path, ROW.format(id="A")), dtype=str).to_parquet(path)
    results, _ = gpufin.value_book(path, greeks=False)
    assert results.loc[0, "value"] > 0
    monkeypatch.setitem(files.MAX_BYTES, "Parquet table", 64)
    with pytest.raises(gpufin.SpecError, match="too large .* expected a Parquet table of at most 64 bytes"):
        gpufin.value_book(path)
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not parquet")
    with pytest.raises(gpufin.SpecError, match="bad.parquet: malformed Parquet file"):
        gpufin.value_book(tmp_path / "bad.parquet")
