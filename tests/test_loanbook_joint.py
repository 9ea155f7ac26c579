"""Joint simulation of a loan book (gpufin.loanbook.joint): a customer and a platform shared by
two loans default at one time in both on every path, with the marginal law of their hazard
(against 1 - e^{-h t}, within 4 standard errors); a loan that shares nothing has the same
columns as alone, bit for bit; paths split in two ranges, or run on one thread or all, give
the same bits; a name in default at t = 0 raises the losses of its loans (common random
numbers) and leaves the other loans' unchanged; bad input as one-line errors naming the key."""
import copy
import math
import pickle
from pathlib import Path

import numba
import numpy as np
import pytest

from gpufin.engines.collateral import fleet_chunks, fleet_default_times
from gpufin.errors import SpecError
from gpufin.loanbook.joint import concatenate, prepare_book, simulate_book, simulate_paths
from gpufin.spec.files import read_document
from gpufin.spec.reader import load_spec

ROOT = Path(__file__).resolve().parents[1]
PATHS, SEED, Z = 3000, 7, 4.0
SHARED, PLATFORM, HAZARD = "AI lab A (BB)", "Neocloud X", 0.15


def deal(name: str) -> dict:
    return read_document(ROOT / f"data/deals/{name}.toml")


def risky(sku: str, customers: tuple[str, str]) -> dict:
    """The non-investment-grade deal on `sku` with customers at HAZARD a year each, loaded 0.5 on
    the credit factor, the platform PLATFORM (5% a year, loading 0.3), and a fixed 9% loan
    amortizing straight-line: defaults on many paths."""
    doc = deal("non_ig_ddtl")
    ins = doc["instrument"]
    del ins["spread"], ins["target_dscr"]
    ins.update(coupon=0.09, principal=450e6, amortization="linear")
    doc["model"]["sku"] = sku
    for c, name in zip(doc["model"]["contracts"], customers):
        c.update(customer=name, default_hazard=HAZARD)
    doc["model"]["credit"] = {"loading": 0.5}
    doc["model"]["platform"] = {"name": PLATFORM, "default_hazard": 0.05, "loading": 0.3}
    return doc


DOCS = {"h200": risky("H200", (SHARED, "AI lab B (BB-)")),
        "h100": risky("H100", (SHARED, "AI lab C")),
        "b200 alone": deal("ig_anchored_ddtl")}       # its own SKU and customer, no platform, no loading


def loans(docs: dict = DOCS) -> list:
    return [(name, load_spec(doc)) for name, doc in docs.items()]


@pytest.fixture(scope="module")
def book():
    return simulate_book(loans(), PATHS, SEED, horizon=2.0)


def test_a_shared_customer_and_platform_default_at_one_time_in_both_loans(book):
    """Each fleet's own draws of its names, as its kernel takes them: the shared customer's and
    platform's times are the same bits in both loans, so the two loans' indicators 'the
    customer has defaulted by t' agree on every path, both are set exactly as often as the
    customer defaults, and the book reports that one time."""
    h200, h100, _ = prepare_book(loans(), SEED).loans
    own = [fleet_default_times(b.model, b.run.collateral.market, b.run.grid, PATHS, b.index_key, b.run.observe)
           for b in (h200, h100)]
    a, b = own[0][h200.customers.index(SHARED)], own[1][h100.customers.index(SHARED)]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(own[0][-1], own[1][-1])           # the platform, last name of each
    customer = book.customer_default_time[:, book.customers.index(SHARED)]
    for t in (0.5, 1.0, 2.0, 4.0):
        in_a, in_b = a <= t, b <= t
        np.testing.assert_array_equal(in_a, in_b)
        assert np.sum(in_a & in_b) == np.sum(customer <= t) > 0
        p = 1.0 - math.exp(-HAZARD * t)                             # the copula keeps the marginal law
        assert abs(np.mean(customer <= t) - p) < Z * math.sqrt(p * (1 - p) / PATHS)
    other = own[0][h200.customers.index("AI lab B (BB-)")]
    assert np.mean(a == other) == 0.0                               # other names draw their own
    assert book.loan_platform[:2] == (PLATFORM, PLATFORM) and book.loan_platform[2] is None
    platform = book.platform_default_time[:, book.platforms.index(PLATFORM)]
    ends = max(h200.run.grid[-1], h100.run.grid[-1])
    np.testing.assert_array_equal(platform, np.where(own[0][-1] <= ends, own[0][-1], np.inf))


def decode_loan(sku: str, other: str) -> dict:
    """A small loan on a fleet whose cash says which contracts are paid: no merchant revenue
    (utilization 1e-9), no opex or failures; SHARED on 30% at 1 USD/GPU-hr and `other` on 30%
    at 2, each at a hazard of 0.3 a year, loaded 0.5 on the credit factor."""
    contracts = [{"customer": SHARED, "share": 0.3, "rate": 1.0, "end": 3.0, "default_hazard": 0.3},
                 {"customer": other, "share": 0.3, "rate": 2.0, "end": 3.0, "default_hazard": 0.3}]
    return {"model": {"kind": "gpu-fleet", "sku": sku, "gpus": 1000, "valuation": "residual", "failure_rate": 0.0,
                      "costs": {"other_cost": 0.0, "power_price": 0.0},
                      "utilization": {"level": 1e-9, "vol": 0.0}, "contracts": contracts,
                      "credit": {"loading": 0.5}},
            "instrument": {"kind": "loan", "principal": 1e6, "maturity": 3.0, "coupon": 0.05}}


def test_the_shared_customer_stops_paying_at_one_date_in_both_fleets_and_one_sku_shares_its_index():
    """From the fleets' cash: on every path and month, the shared customer pays in both fleets
    (an H100 and an H200) or in neither, exactly as often as its book default time says; the
    other customers default on their own; two fleets on the H100 see one index path, and the
H200's index moves independently of it (correlation within 4 standard errors of 0)."""
    docs = {"a": decode_loan("H100", "lab a"), "b": decode_loan("H200", "lab b"), "c": decode_loan("H100", "lab c")}
    book = prepare_book(loans(docs), SEED)
    months = np.arange(1, 37) / 12.0
    paid, index = {}, {}
    for b in book.loans:
        run, market = b.run, b.run.collateral.market
        _, fa = b.model.kernel_args(run.grid, market, run.observe)
        (_, out), = fleet_chunks(b.model, market, run.grid, PATHS, b.index_key, None, run.observe)
        at = np.searchsorted(run.grid, months - 1e-9)
        level = out[2][:, at] / (fa.hours[at - 1] * fa.fleet[at] * fa.contracted)   # USD per GPU-hr paid
        code = np.rint(level / 0.3).astype(int)                                      # 1 shared, 2 other, 3 both
        paid[b.id] = (np.isin(code, (1, 3)), code >= 2)
        index[b.id] = out[0][:, at]
    times = simulate_paths(book, PATHS).customer_default_time
    shared = times[:, book.customers.index(SHARED)]
    np.testing.assert_array_equal(paid["a"][0], paid["b"][0])
    np.testing.assert_array_equal(paid["a"][0], paid["c"][0])
    np.testing.assert_array_equal(~paid["a"][0], shared[:, None] <= months[None, :])
    assert 0.2 < np.mean(~paid["a"][0][:, -1]) < 0.9
    assert np.mean(paid["a"][1] != paid["b"][1]) > 0.1                # other names: their own draws
    np.testing.assert_array_equal(index["a"], index["c"])
    moves = {k: np.log(v[:, -1] / v[:, 0]) for k, v in index.items()}
    assert abs(np.corrcoef(moves["a"], moves["b"])[0, 1]) < Z / math.sqrt(PATHS)   # other SKUs: their own


def test_the_book_records_units_tags_and_defaults(book):
    assert book.ids == tuple(DOCS) and book.loss.shape == (PATHS, 3) and book.paths == PATHS
    assert book.loan_sku == ("H200", "H100", "B200") and book.factor_loan == "h200"
    assert book.customers == (SHARED, "AI lab B (BB-)", "AI lab C", "investment-grade anchor")
    assert book.loan_customer_shares[0] == {SHARED: 0.45, "AI lab B (BB-)": 0.45}
    np.testing.assert_array_equal(book.exposure, [450e6, 450e6, 840e6])
    defaulted = np.isfinite(book.default_time)
    assert defaulted[:, :2].mean() > 0.05                            # risky loans default often
    assert np.all(book.loss[~defaulted] == 0.0) and np.all(book.loss[defaulted] >= 0.0)
    early = book.default_time <= 2.0
    np.testing.assert_array_equal(book.loss_horizon, np.where(early, book.loss, 0.0))
    assert pickle.loads(pickle.dumps(book)).loss.tobytes() == book.loss.tobytes()


def test_unnamed_customers_and_platforms_belong_to_their_own_loan():
    unnamed = copy.deepcopy(DOCS["h200"])
    for c in unnamed["model"]["contracts"]:
        del c["customer"]
    del unnamed["model"]["platform"]["name"]
    paths = simulate_book(loans({"x": unnamed, "y": unnamed}), 500, SEED)
    assert paths.customers == ("x: customer 0", "x: customer 1", "y: customer 0", "y: customer 1")
    assert paths.platforms == ("x: platform", "y: platform") and paths.loan_platform == paths.platforms
    times = paths.customer_default_time
    both = np.isfinite(times[:, 0]) & np.isfinite(times[:, 2])
    assert both.sum() > 50 and not np.any(times[both, 0] == times[both, 2])
    assert np.any(paths.loss[:, 0] != paths.loss[:, 1])


def test_a_loan_that_shares_nothing_has_its_columns_alone_bit_for_bit(book):
    alone = simulate_book(loans({"b200 alone": DOCS["b200 alone"]}), PATHS, SEED, horizon=2.0)
    for field in ("loss", "loss_horizon", "default_time", "customer_default_time"):
        np.testing.assert_array_equal(getattr(book, field)[:, -1], getattr(alone, field)[:, 0], err_msg=field)


def test_path_ranges_and_threads_give_the_same_bits(book):
    """Paths [0, n) against [0, n/2) and [n/2, n) joined, and on one thread against every thread
    numba has (2 on the test machines)."""
    half = PATHS // 2
    parts = [simulate_book(loans(), n, SEED, first_path=first, horizon=2.0)
             for first, n in ((0, half), (half, PATHS - half))]
    joined = concatenate(parts)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_book(loans(), PATHS, SEED, horizon=2.0)
    finally:
        numba.set_num_threads(before)
    for field in ("loss", "loss_horizon", "default_time", "customer_default_time", "platform_default_time"):
        np.testing.assert_array_equal(getattr(joined, field), getattr(book, field), err_msg=field)
        np.testing.assert_array_equal(getattr(one, field), getattr(book, field), err_msg=field)
    assert parts[1].first_path == half and joined.first_path == 0


@pytest.mark.parametrize("name, kind", [(SHARED, "customer"), (PLATFORM, "platform")])
def test_a_name_in_default_raises_its_loans_losses_on_common_paths(book, name, kind):
    """The name in default at t = 0 on every path; its two loans lose more on average (beyond 2
    standard errors of the per-path differences), the loan without it is unchanged."""
    forced = simulate_book(loans(), PATHS, SEED, horizon=2.0, defaulted=[name])
    names = book.customers if kind == "customer" else book.platforms
    times = forced.customer_default_time if kind == "customer" else forced.platform_default_time
    assert np.all(times[:, names.index(name)] == 0.0)
    for j in (0, 1):
        diff = forced.loss[:, j] - book.loss[:, j]
        assert diff.mean() > 2.0 * diff.std(ddof=1) / math.sqrt(PATHS), (name, j)
    np.testing.assert_array_equal(forced.loss[:, 2], book.loss[:, 2])
    assert forced.defaulted == (name,)


def _with(doc: dict, **model) -> dict:
    out = copy.deepcopy(doc)
    out["model"].update(model)
    return out


@pytest.mark.parametrize("book_loans, kwargs, key", [
    ([], {}, "loans"),
    ([("a", DOCS["h200"]), ("a", DOCS["h100"])], {}, "loans"),
    ([("a", DOCS["h200"])], {"defaulted": ["nobody"]}, "defaulted"),
    ([("a", DOCS["h200"])], {"defaulted": SHARED}, "defaulted"),
    ([("a", DOCS["h200"])], {"horizon": 0.0}, "horizon"),
    ([("a", DOCS["h200"])], {"n_paths": 0}, "paths"),
    ([("a", DOCS["h200"]), ("b", _with(DOCS["h100"], credit={"loading": 0.2}))], {}, "b.model.contracts"),
    ([("a", DOCS["h200"]), ("b", _with(DOCS["h100"], platform={"name": PLATFORM, "default_hazard": 0.1}))],
     {}, "b.model.platform"),
    ([("a", {"model": {"kind": "gbm", "spot": 2.0, "vol": 0.3, "rate": 0.04},
             "instrument": {"kind": "loan", "principal": 1e6, "maturity": 2.0, "coupon": 0.05}})],
     {}, "a.model.kind"),
])
def test_bad_books_are_one_line_errors_naming_the_key(book_loans, kwargs, key):
    run = {"n_paths": 10, **kwargs}
    with pytest.raises(SpecError) as err:
        simulate_book([(i, load_spec(doc)) for i, doc in book_loans], run.pop("n_paths"), SEED, **run)
    assert err.value.key == key and "\n" not in str(err.value)
