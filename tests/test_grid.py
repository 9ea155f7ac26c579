"""Sensitivity grids (gpufin.grid) and their charts (gpufin.output.grid_plots.plot_grid)."""
from pathlib import Path

import numpy as np
import pytest
from conftest import N_SE, spec

import gpufin
from gpufin.output.grid_plots import plot_grid
from gpufin.risk import grid as grid_module

CALL = {"kind": "european", "option": "call", "strike": 2.4, "maturity": 1.0}
DDTL = "data/deals/non_ig_ddtl.toml"
PNG = b"\x89PNG\r\n\x1a\n"


def _matrix(frame, field):
    """The field as a matrix: first varied key down the rows, second across."""
    first, second = frame.columns[:2]
    return frame.pivot(index=first, columns=second, values=field).to_numpy()


def test_one_axis_equals_single_prices_and_the_closed_form(gbm):
    doc = spec(gbm, CALL, paths=50_000, method="mc")
    frame = gpufin.grid(doc, ["model.spot=2.0:3.0:5"])
    assert list(frame.columns) == ["model.spot", "value", "stderr", "error"]
    assert frame["error"].isna().all()
    for spot, value, stderr in frame[["model.spot", "value", "stderr"]].itertuples(index=False):
        alone = gpufin.price(doc, [("model.spot", float(spot))])
        assert (value, stderr) == (alone["value"], alone["stderr"])
        exact = gpufin.price(doc, [("model.spot", float(spot)), ("mc.method", "analytic")])["value"]
        assert abs(value - exact) <= N_SE * stderr


def test_points_are_priced_in_one_call(gbm, monkeypatch):
    calls = []

    def counted(specs):
        calls.append(len(specs))
        return gpufin.price_many(specs)

    monkeypatch.setattr(grid_module, "price_many", counted)
    frame = gpufin.grid(spec(gbm, CALL), ["model.spot=2:3:3", ("instrument.strike", [2.0, 2.5])])
    assert calls == [6] and len(frame) == 6
    assert list(frame["instrument.strike"]) == [2.0, 2.5] * 3


def test_two_axes_are_monotone(gbm):
    doc = spec(gbm, CALL, paths=20_000, method="mc")
    frame = gpufin.grid(doc, ["model.spot=2.0:3.0:3", "model.vol=0.2:0.8:3"])
    values = _matrix(frame, "value")
    assert values.shape == (3, 3)
    assert (np.diff(values, axis=0) > 0).all() and (np.diff(values, axis=1) > 0).all()


def test_loan_grid_holds_the_schedule_and_is_monotone():
    frame = gpufin.grid(DDTL, ["model.index.spot=2.4:4.4:3", "model.utilization.level=0.6:0.8:3"],
                        "price_pct", ["mc.paths=2000"])
    assert list(frame.columns) == ["model.index.spot", "model.utilization.level", "price_pct",
                                   "price_pct_stderr", "error"]
    assert frame["error"].isna().all() and (frame["price_pct_stderr"] > 0).all()
    prices = _matrix(frame, "price_pct")
    assert (np.diff(prices, axis=0) >= 0).all() and (np.diff(prices, axis=1) >= 0).all()


def test_a_failed_point_keeps_its_error(gbm):
    frame = gpufin.grid(spec(gbm, CALL), ["model.spot=-1:3:3"])
    assert frame["error"][0].startswith("model.spot:") and np.isnan(frame["value"][0])
    assert frame["error"][1:].isna().all() and (frame["value"][1:] > 0).all()


@pytest.mark.parametrize("vary", [
    ["model.spot=2:3"], ["model.spot=2:3:1"], ["model.spot=2:3:2.5"], ["model.spot=two:3:3"],
    ["model.spot=2:nan:3"], ["spot=2:3:3"], ["model.spot 2:3:3"], ["model.spot=2:2:3"], [],
    ["model.spot=2:3:3", "model.vol=0.2:0.4:2", "model.rate=0:0.1:2"],
    ["model.spot=2:3:3", "model.spot=1:2:2"], [("model.spot", ["2", 3])], [("model.spot", [2])]])
def test_bad_vary_names_the_option(gbm, vary):
    with pytest.raises(gpufin.SpecError) as err:
        gpufin.grid(spec(gbm, CALL), vary)
    assert err.value.key == "--vary" and "\n" not in str(err.value)


def test_unknown_field_lists_the_numeric_keys(gbm):
    with pytest.raises(gpufin.SpecError) as err:
        gpufin.grid(spec(gbm, CALL), ["model.spot=2:3:2"], field="pdd")
    assert err.value.key == "--field" and "'pdd'" in err.value.problem
    assert "value" in err.value.problem and "strike" in err.value.problem


@pytest.mark.parametrize("vary", [["model.spot=2:3:4"], ["model.spot=2:3:4", "model.vol=0.2:0.6:3"]],
                         ids=["line", "heat-map"])
def test_plot_writes_a_png(gbm, tmp_path, vary):
    frame = gpufin.grid(spec(gbm, CALL, paths=2_000, method="mc"), vary)
    path = plot_grid(frame, "value", tmp_path / "grid.png")
    assert path.read_bytes().startswith(PNG)
    assert plot_grid(frame, "value", tmp_path / "grid.svg").read_text().lstrip().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "grid.svg"]


def test_plot_refuses_other_formats(gbm, tmp_path):
    frame = gpufin.grid(spec(gbm, CALL), ["model.spot=2:3:2"])
    with pytest.raises(gpufin.SpecError):
        plot_grid(frame, "value", tmp_path / "grid.pdf")
    assert not list(tmp_path.iterdir())


def test_the_grid_command_writes_csv_and_a_heat_map(tmp_path):
    import pandas as pd
    from click.testing import CliRunner

    import cli
    spec = str(Path(__file__).resolve().parents[1] / "data" / "examples" / "european.toml")
    out, plot = tmp_path / "grid.csv", tmp_path / "grid.png"
    result = CliRunner().invoke(cli.main, ["grid", spec, "--vary", "model.spot=2.0:3.0:3", "--vary",
                                           "model.vol=0.3:0.6:2", "--out", str(out), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 6 and list(frame.columns[:3]) == ["model.spot", "model.vol", "value"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
