"""The credit inputs of the shipped deals: the `[credit]` table of data/market.toml (as
`MarketData.snapshot` holds it), checked against `CreditSpec`, and the hazard curve of an
obligor from its CDS quotes or, without quotes, its rating.

Each `[[credit.names]]` gives an obligor's CDS quotes or rating and recovery; each
`[[credit.deals]]` (`deal`: a file name of data/deals/ without .toml) names the deal's
anchor customer and platform among them, the lender's recovery on the loan and the spread the
market pays on such loans (bp a year). Sources: data/SOURCES.md, section 11.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gpufin.credit.hazards import HazardCurve, bootstrap_cds, rating_curve
from gpufin.errors import SpecError
from gpufin.spec.reader import validate_table
from gpufin.spec.schema import CreditNameSpec, CreditSpec

KEY = "market.credit"


@dataclass(frozen=True)
class DealCredit:
    """One deal's credit inputs, its names resolved."""
    deal: str
    anchor: CreditNameSpec | None    # None: no contracted customer
    platform: CreditNameSpec
    loan_recovery: float             # fraction of par
    observed_spread_bp: float        # bp a year over SOFR


def credit_spec(snapshot: dict) -> CreditSpec:
    """The checked `[credit]` table of a market snapshot: names and deals unique, every name
    a deal uses listed, and each name with CDS quotes or a rating."""
    if not isinstance(snapshot.get("credit"), dict):
        raise SpecError(KEY, "missing; expected a [credit] table with names and deals")
    spec = validate_table(KEY, snapshot["credit"], CreditSpec)
    names = [n.name for n in spec.names]
    for i, entry in enumerate(spec.names):
        if entry.name in names[:i]:
            raise SpecError(f"{KEY}.names[{i}].name", f"got {entry.name!r} twice; expected unique names")
        if not entry.cds and entry.rating is None:
            raise SpecError(f"{KEY}.names[{i}]", f"{entry.name!r}: expected cds quotes or a rating")
    deals = [d.deal for d in spec.deals]
    for i, entry in enumerate(spec.deals):
        if entry.deal in deals[:i]:
            raise SpecError(f"{KEY}.deals[{i}].deal", f"got {entry.deal!r} twice; expected unique deals")
        for role in ("anchor", "platform"):
            name = getattr(entry, role)
            if name is not None and name not in names:
                raise SpecError(f"{KEY}.deals[{i}].{role}",
                                f"got {name!r}; expected one of {', '.join(names)}")
    return spec


def deal_credit(snapshot: dict, deal: str) -> DealCredit:
    """The credit inputs of one deal of the snapshot's `[[credit.deals]]`."""
    spec = credit_spec(snapshot)
    names = {n.name: n for n in spec.names}
    deals = {d.deal: d for d in spec.deals}
    if deal not in deals:
        raise SpecError(f"{KEY}.deals", f"got {deal!r}; expected one of {', '.join(deals)}")
    entry = deals[deal]
    anchor = names[entry.anchor] if entry.anchor is not None else None
    return DealCredit(deal, anchor, names[entry.platform], entry.loan_recovery, entry.observed_spread_bp)


def name_curve(name: CreditNameSpec, discount, valuation_date: dt.date | None = None,
               key: str = f"{KEY}.names") -> HazardCurve:
    """An obligor's hazard curve: bootstrapped from its CDS quotes, else from its rating's
    spread curve; `discount` as `bootstrap_cds` takes it."""
    if name.cds:
        quotes = [(q.tenor_years, q.spread_bp) for q in name.cds]
        return bootstrap_cds(quotes, name.recovery, discount, valuation_date, key=f"{key}.cds")
    return rating_curve(name.rating, name.recovery, discount, valuation_date, key=f"{key}.rating")
