"""Shared helpers: specs on an H100-like index and tolerance checks in standard errors."""
import copy

import pytest

import gpufin

N_SE = 4.0   # Monte Carlo results must lie within 4 standard errors of their reference


def spec(model: dict, instrument: dict, **mc) -> dict:
    mc.setdefault("paths", 100_000)
    mc.setdefault("seed", 11)
    return {"model": copy.deepcopy(model), "instrument": copy.deepcopy(instrument), "mc": mc}


def price_both(model: dict, instrument: dict, **mc):
    """(Monte Carlo result, closed-form result) of the same trade."""
    mc_result = gpufin.price(spec(model, instrument, method="mc", **mc))
    ref = gpufin.price(spec(model, instrument, method="analytic"))
    return mc_result, ref


def assert_close_se(result: dict, reference: float, n_se: float = N_SE, extra: float = 0.0):
    """|MC - reference| <= n_se * stderr (+ an explicit allowance for approximate references)."""
    err = abs(result["value"] - reference)
    assert result["stderr"] > 0.0
    assert err <= n_se * result["stderr"] + extra, (
        f"MC {result['value']:.6g} vs reference {reference:.6g}: {err / result['stderr']:.2f} SE")


GBM = {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04}


@pytest.fixture
def gbm():
    return dict(GBM)
