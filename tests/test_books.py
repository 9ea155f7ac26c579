"""Books read row by row: a row with the wrong number of cells is an error row (never
shifted), a misspelt column stops the book with a suggestion, every row is checked as
`gpufin price` checks it whether or not Greeks are asked for, repeated ids are flagged, and an
empty book is a clear error."""
import pytest

import gpufin

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
