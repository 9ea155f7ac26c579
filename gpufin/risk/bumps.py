"""Risk-factor moves applied to spec documents: Greek bumps, stress scenarios, VaR moves.

Each function returns a new document (the input is never changed). Bumped documents keep
their seed, so a bump and its base are revalued on common random numbers.
Where a factor sits by model kind:
  index level: model.spot (model.index.spot for gpu-fleet, default from data/gpus.csv;
    model.indices[i].spot and its forward curve for multi-index, i the index the trade
    settles on, `instrument.index`);
  volatility: model.vol, model.short_vol (schwartz-smith), model.index.short_vol (gpu-fleet),
    model.indices[i].short_vol (multi-index);
  rates: model.rate, else every rate of market.curve (a gpu-fleet without either uses the
  shipped snapshot's curve, written into the document first);
  utilization, launch-jump size, opex: gpu-fleet only.
On a multi-index model an index move moves every index of the traded index's SKU
(`model.indices[n].sku`; a basis index has its base's) by the same factor: a basis index and
its base move together, so the log basis today and the basis' short factor stay as they are,
and the traded index's whole path scales by the factor, as a single-index model's does when
its spot and forward curve do.
"""
from __future__ import annotations

import copy
import math

from gpufin.errors import SpecError
from gpufin.market.data import load_market_data, snapshot_market_table

SPOT_BUMP = 0.01        # relative, for delta and gamma
VOL_BUMP = 0.01         # absolute, for vega (per unit of volatility)
RATE_BUMP = 1e-4        # one basis point, for DV01
UTIL_BUMP = 0.01        # one point of utilization
JUMP_BUMP = -0.01       # launch log-jump one point more negative
OPEX_BUMP = 0.01        # one cent per GPU-hour of other cost


def _model(doc) -> dict:
    return doc.setdefault("model", {})


def is_fleet(doc) -> bool:
    return doc.get("model", {}).get("kind") == "gpu-fleet"


def is_multi_index(doc) -> bool:
    return doc.get("model", {}).get("kind") == "multi-index"


def traded_index(doc) -> int:
    """Position in model.indices of the index a multi-index trade settles on
    (`instrument.index`)."""
    names = [ix.get("name") for ix in doc["model"].get("indices", [])]
    name = doc.get("instrument", {}).get("index")
    if name not in names:
        raise SpecError("instrument.index", f"got {name!r}; expected one of {', '.join(map(str, names))}")
    return names.index(name)


def _index_sku(indices: list, n: int) -> str:
    """The SKU of index n of a multi-index model: its `sku`, else its name; a basis index's is
    its base's."""
    index = indices[n]
    if index.get("basis_of") is not None:
        index = next((ix for ix in indices if ix.get("name") == index["basis_of"]), index)
    return index.get("sku") or index.get("name")


def traded_sku(doc) -> str | None:
    """The SKU of the index a multi-index trade settles on; None on other models."""
    if not is_multi_index(doc):
        return None
    return _index_sku(doc["model"]["indices"], traded_index(doc))


def spot_of(doc) -> float:
    """Today's level (USD/GPU-hr) of the index the trade's value moves with."""
    m = doc["model"]
    if is_fleet(doc):
        spot = m.get("index", {}).get("spot")
        if spot is None:
            spot = load_market_data().gpu(m.get("sku", "H100"))["index_spot_usd_per_gpu_hour"]
        return float(spot)
    if is_multi_index(doc):
        return float(m["indices"][traded_index(doc)]["spot"])
    return float(m["spot"])


def _scale_curve(points: list, factor: float) -> None:
    for point in points:
        point["price"] = float(point["price"]) * factor


def scale_index(doc, factor: float) -> dict:
    """The index level (spot, forward curve, Schwartz long-run level) times factor; on a
    multi-index model, that of every index of the traded index's SKU; on a gpu-fleet, its
    index's and its basis index's."""
    out = copy.deepcopy(doc)
    m = _model(out)
    if is_fleet(out):
        m.setdefault("index", {})["spot"] = spot_of(doc) * factor
        if m.get("basis_index"):
            m["basis_index"]["spot"] = float(m["basis_index"]["spot"]) * factor
    elif is_multi_index(out):
        sku = traded_sku(doc)
        for n, index in enumerate(m["indices"]):
            if _index_sku(m["indices"], n) == sku:
                index["spot"] = float(index["spot"]) * factor
                _scale_curve(index.get("forward_curve", []), factor)
    else:
        m["spot"] = float(m["spot"]) * factor
        if m.get("kind") == "schwartz":
            m["long_run_level"] = float(m["long_run_level"]) * factor
    _scale_curve(out.get("market", {}).get("forward_curve", []), factor)
    return out


def vol_key(doc) -> tuple:
    """Where the volatility that vega bumps sits under `model`: a path of table keys and list
    positions."""
    kind = doc["model"].get("kind")
    if kind == "gpu-fleet":
        return ("index", "short_vol")
    if kind == "schwartz-smith":
        return ("short_vol",)
    if kind == "multi-index":
        return ("indices", traded_index(doc), "short_vol")
    return ("vol",)


def bump_vol(doc, size: float) -> dict:
    """The volatility of vol_key plus `size` (absolute), floored at 0."""
    out = copy.deepcopy(doc)
    node, path = _model(out), vol_key(doc)
    for part in path[:-1]:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    default = {"short_vol": 0.45} if is_fleet(doc) else {}
    node[path[-1]] = max(float(node.get(path[-1], default.get(path[-1], 0.0))) + size, 0.0)
    return out


def shift_rates(doc, shift: float) -> dict:
    """Every discount rate + shift (decimal): model.rate, or the curve's quotes."""
    out = copy.deepcopy(doc)
    m = _model(out)
    curve = out.get("market", {}).get("curve")
    if curve is None and m.get("rate") is not None:
        m["rate"] = float(m["rate"]) + shift
        return out
    if curve is None:
        snapshot = snapshot_market_table()
        market = out.setdefault("market", {})
        market.setdefault("valuation_date", snapshot["valuation_date"])
        curve = market["curve"] = snapshot["curve"]
    if curve.get("rate") is not None:
        curve["rate"] = float(curve["rate"]) + shift
    curve["rates"] = [float(r) + shift for r in curve.get("rates", [])]
    for table in ("deposits", "ois"):
        for q in curve.get(table, []):
            q["rate"] = float(q["rate"]) + shift
    return out


def _fleet_set(doc, table: str, key: str, value) -> dict:
    out = copy.deepcopy(doc)
    _model(out).setdefault(table, {})[key] = value
    return out


def set_utilization(doc, level: float) -> dict:
    out = _fleet_set(doc, "utilization", "level", level)
    out["model"]["utilization"]["start"] = level
    return out


def bump_utilization(doc, size: float) -> dict:
    level = float(doc["model"].get("utilization", {}).get("level", 0.70)) + size
    start = doc["model"].get("utilization", {}).get("start")
    out = _fleet_set(doc, "utilization", "level", level)
    if start is not None:
        out["model"]["utilization"]["start"] = float(start) + size
    return out


def bump_launch_jump(doc, size: float) -> dict:
    mean = float(doc["model"].get("index", {}).get("launch_jump_mean", -0.16))
    return _fleet_set(doc, "index", "launch_jump_mean", mean + size)


def bump_opex(doc, size: float) -> dict:
    other = float(doc["model"].get("costs", {}).get("other_cost", 0.40))
    return _fleet_set(doc, "costs", "other_cost", other + size)


def scale_power(doc, factor: float) -> dict:
    price = doc["model"].get("costs", {}).get("power_price")
    if price is None:
        price = load_market_data().snapshot["power_price_usd_per_kwh"]
    return _fleet_set(doc, "costs", "power_price", float(price) * factor)


def default_anchor(doc) -> dict:
    """The customer with the largest contract share defaults at the valuation date."""
    contracts = doc["model"].get("contracts", [])
    if not contracts:
        return copy.deepcopy(doc)
    out = copy.deepcopy(doc)
    largest = max(range(len(contracts)), key=lambda i: float(contracts[i]["share"]))
    name = contracts[largest].get("customer")
    for i, c in enumerate(out["model"]["contracts"]):
        if i == largest or (name and c.get("customer") == name):
            c["default_hazard"] = math.inf
    return out


def apply_scenario(doc, shocks: dict) -> dict:
    """A stress scenario (data/scenarios.toml keys) applied to one position's document."""
    out = copy.deepcopy(doc)
    if "index_factor" in shocks:
        out = scale_index(out, shocks["index_factor"])
    if "rate_shift" in shocks:
        out = shift_rates(out, shocks["rate_shift"])
    if is_fleet(out):
        if "utilization" in shocks:
            out = set_utilization(out, shocks["utilization"])
        if "power_factor" in shocks:
            out = scale_power(out, shocks["power_factor"])
        if shocks.get("anchor_default"):
            out = default_anchor(out)
    return out


def greek_bumps(doc, vega: bool = True) -> dict:
    """Named bumped documents for the Greeks that apply to this position's model (without
    the volatility bump when vega comes from elsewhere)."""
    spot = spot_of(doc)
    vol = {"vol_up": bump_vol(doc, VOL_BUMP)} if vega else {}
    bumps = {"spot_up": scale_index(doc, 1 + SPOT_BUMP), "spot_down": scale_index(doc, 1 - SPOT_BUMP),
             **vol, "rate_up": shift_rates(doc, RATE_BUMP)}
    if is_fleet(doc):
        bumps.update(util_up=bump_utilization(doc, UTIL_BUMP), util_down=bump_utilization(doc, -UTIL_BUMP),
                     jump=bump_launch_jump(doc, JUMP_BUMP), opex=bump_opex(doc, OPEX_BUMP))
    return {"spot": spot, **bumps}


def greek_moves() -> dict:
    """The bumps of greek_bumps without the volatility bump, as named moves (index factor,
    rate shift or None) for gpufin.engines.pricing.price_moved: the same revaluations."""
    return {"spot_up": (1 + SPOT_BUMP, None), "spot_down": (1 - SPOT_BUMP, None),
            "rate_up": (1.0, RATE_BUMP)}


def greeks(base: float, values: dict, spot: float) -> dict:
    """Greeks per unit of the position from bumped values (NaN where a bump does not apply or
    was not made): delta, gamma (per USD of index), vega (per unit volatility), dv01 (USD per
    +1bp, sign: value lost), util (per utilization point), jump (launch jump 1 point deeper),
    opex (other cost +1 cent/GPU-hr)."""
    h = spot * SPOT_BUMP
    up, down = values["spot_up"], values["spot_down"]
    vega = (values["vol_up"] - base) / VOL_BUMP if "vol_up" in values else math.nan
    out = {"delta": (up - down) / (2 * h), "gamma": (up - 2 * base + down) / (h * h),
           "vega": vega, "dv01": base - values["rate_up"]}
    if "util_up" in values:
        out.update(util=(values["util_up"] - values["util_down"]) / 2, jump=values["jump"] - base,
                   opex=values["opex"] - base)
    else:
        out.update(util=math.nan, jump=math.nan, opex=math.nan)
    return out
