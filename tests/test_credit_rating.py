"""The rating view: PD or EL over the WAL placed on Moody's idealized table, at table values,
between horizons (log-interpolated), at the edges, and with bad input."""
import math

import pytest

from gpufin.credit.rating import (
    IDEALIZED_LOSS_SEVERITY,
    idealized_figure,
    implied_rating,
)
from gpufin.credit.tables import idealized_pd
from gpufin.errors import SpecError

TABLE = idealized_pd()
RATINGS = list(TABLE)


def test_table_is_ordered_by_rating_and_horizon():
    assert RATINGS[0] == "Aaa" and RATINGS[-1] == "Caa3" and len(RATINGS) == 19
    for horizon_index in range(2):
        column = [TABLE[r][1][horizon_index] for r in RATINGS]
        assert column == sorted(column) and len(set(column)) == len(column)
    for r in RATINGS:
        years, pct = TABLE[r]
        assert years == (1.0, 10.0) and pct[0] < pct[1]


@pytest.mark.parametrize("rating, years, pct", [("Aaa", 10, 0.01), ("A3", 10, 1.80), ("Baa2", 1, 0.17),
                                                ("Baa2", 10, 3.60), ("Ba2", 10, 13.50), ("B2", 1, 7.16),
                                                ("Caa2", 10, 65.0)])
def test_exact_table_values_map_to_their_rating(rating, years, pct):
    assert idealized_figure(rating, years) == pytest.approx(pct / 100, rel=1e-12)
    view = implied_rating(pd=pct / 100, wal_years=years)
    assert view.rating == rating and view.threshold == pytest.approx(pct / 100, rel=1e-12)
    assert not view.clamped
    k = RATINGS.index(rating)
    just_worse = implied_rating(pd=pct / 100 * (1 + 1e-9), wal_years=years)
    assert just_worse.rating == (RATINGS[k + 1] if k + 1 < len(RATINGS) else None)
    assert just_worse.better_rating == rating


def test_neighbours_bracket_the_measured_figure():
    view = implied_rating(pd=0.05, wal_years=3.0)
    assert view.better_threshold < 0.05 <= view.threshold < view.worse_threshold
    k = RATINGS.index(view.rating)
    assert RATINGS[k - 1] == view.better_rating and RATINGS[k + 1] == view.worse_rating


@pytest.mark.parametrize("rating", ["Aa2", "Baa3", "B1"])
def test_log_interpolation_in_horizon(rating):
    p1, p10 = TABLE[rating][1]
    # halfway in horizon is the geometric mean of the two figures; a third of the way, p1^(2/3) p10^(1/3)
    assert idealized_figure(rating, 5.5) == pytest.approx(math.sqrt(p1 * p10) / 100, rel=1e-12)
    assert idealized_figure(rating, 4.0) == pytest.approx(p1 ** (2 / 3) * p10 ** (1 / 3) / 100, rel=1e-12)


def test_expected_loss_uses_the_55pct_severity():
    assert IDEALIZED_LOSS_SEVERITY == 0.55
    view_pd = implied_rating(pd=0.02, wal_years=4.2)
    view_el = implied_rating(el=0.02 * 0.55, wal_years=4.2)
    assert view_el.rating == view_pd.rating and view_el.measure == "el"
    assert view_el.threshold == pytest.approx(0.55 * view_pd.threshold, rel=1e-12)


def test_edges_wal_beyond_the_table_el_zero_and_above_the_worst():
    long = implied_rating(pd=0.03, wal_years=14.0)
    assert long.clamped and long.horizon_years == 10.0
    assert long.rating == implied_rating(pd=0.03, wal_years=10.0).rating == "Baa2"
    short = implied_rating(pd=0.001, wal_years=0.25)
    assert short.clamped and short.horizon_years == 1.0 and short.rating == "Baa2"
    best = implied_rating(el=0.0, wal_years=5.0)
    assert best.rating == "Aaa" and best.better_rating is None and best.worse_rating == "Aa1"
    worst = implied_rating(el=0.6, wal_years=5.0)
    assert worst.rating is None and worst.threshold is None and worst.better_rating == "Caa3"


@pytest.mark.parametrize("kwargs, key", [
    ({"pd": 0.01, "el": 0.01, "wal_years": 3.0}, "pd"),
    ({"wal_years": 3.0}, "pd"),
    ({"pd": -0.01, "wal_years": 3.0}, "pd"),
    ({"el": math.nan, "wal_years": 3.0}, "el"),
    ({"pd": 1.5, "wal_years": 3.0}, "pd"),
    ({"pd": 0.01, "wal_years": 0.0}, "wal_years"),
    ({"pd": 0.01, "wal_years": math.inf}, "wal_years"),
])
def test_bad_input_is_a_one_line_error(kwargs, key):
    with pytest.raises(SpecError) as err:
        implied_rating(**kwargs)
    assert err.value.key == key and "\n" not in str(err.value)


def test_unknown_rating_is_an_error():
    with pytest.raises(SpecError, match="'BBB'"):
        idealized_figure("BBB", 5.0)
