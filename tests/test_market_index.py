"""Index price: vectors BN-IX-1/2, hand-computed cases, outlier robustness, public API."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import solvent.market as market
from solvent.errors import InvalidInput, StaleMarketData
from solvent.market import (
    DropReason,
    IndexConfig,
    IndexFailure,
    IndexMethod,
    SourceQuote,
    compute_index,
)

D = Decimal
NOW_MS = 1_700_000_000_000
CONFIG = IndexConfig(max_deviation=D("0.05"), staleness_ms=10_000)


def quotes(prices: list[str], weights: list[str] | None = None) -> list[SourceQuote]:
    weights = weights or ["1"] * len(prices)
    return [
        SourceQuote(f"s{i}", D(p), NOW_MS, D(w))
        for i, (p, w) in enumerate(zip(prices, weights, strict=True))
    ]


# Copied from /work/shared/vectors/public.json.
VECTORS = [
    pytest.param(
        ["30000", "30010", "29990", "31800"],
        ["1", "1", "1", "1"],
        "0.05",
        ["31800"],
        "30000",
        # source: Binance price index rule: a source deviating more than 5% from the median
        # of all sources gets weight 0; computed (median 30005, 31800 is 5.98% away)
        id="BN-IX-1 one source 5.98% above the median is dropped and the index is 30000",
    ),
    pytest.param(
        ["30000", "30010", "33000", "27000"],
        ["1", "1", "1", "1"],
        "0.05",
        ["33000", "27000"],
        "30005",
        # source: Binance price index rule: when more than one source deviates, the median
        # of all sources is used; computed
        id="BN-IX-2 two deviating sources are dropped and the index is the median 30005",
    ),
]


@pytest.mark.parametrize(("prices", "weights", "max_dev", "dropped", "index"), VECTORS)
def test_index_vectors(
    prices: list[str], weights: list[str], max_dev: str, dropped: list[str], index: str
) -> None:
    config = IndexConfig(max_deviation=D(max_dev), staleness_ms=10_000)
    qs = quotes(prices, weights)
    result = compute_index(qs, NOW_MS, config)
    by_source = {q.source: q.price for q in qs}
    assert [by_source[d.source] for d in result.dropped] == [D(p) for p in dropped]
    assert all(d.reason is DropReason.DEVIATION for d in result.dropped)
    assert result.price == D(index)


HAND = [
    pytest.param(
        ["100", "101", "102"],
        ["1", "1", "2"],
        # nothing deviates: (100 + 101 + 2·102) / 4 = 405 / 4
        "101.25",
        IndexMethod.WEIGHTED_MEAN,
        id="with no outlier the index is the weighted mean 101.25 (the median would be 101)",
    ),
    pytest.param(
        ["30000", "30010", "30050", "40000"],
        ["1", "1", "2", "1"],
        # fresh median (30010 + 30050) / 2 = 30030; 40000 is 33% away and dropped;
        # (30000 + 30010 + 2·30050) / 4 = 120110 / 4
        "30027.5",
        IndexMethod.WEIGHTED_MEAN,
        id="one outlier is dropped and the rest are weight-averaged to 30027.5",
    ),
    pytest.param(
        ["100", "101", "130", "70", "102"],
        ["1", "1", "1", "1", "5"],
        # fresh median 101; 130 (28.7%) and 70 (30.7%) deviate: median of all = 101,
        # although the weighted mean of the survivors would be (100 + 101 + 510) / 7
        "101",
        IndexMethod.MEDIAN_OF_ALL,
        id="two outliers switch to the median of all sources, 101, ignoring weights",
    ),
]


@pytest.mark.parametrize(("prices", "weights", "index", "method"), HAND)
def test_index_hand_computed(
    prices: list[str], weights: list[str], index: str, method: IndexMethod
) -> None:
    result = compute_index(quotes(prices, weights), NOW_MS, CONFIG)
    assert (result.price, result.method) == (D(index), method)


def test_a_quote_older_than_the_staleness_limit_is_dropped_as_stale() -> None:
    fresh_edge = SourceQuote("edge", D(100), NOW_MS - 10_000)  # exactly 10 s old: fresh
    old = SourceQuote("old", D(500), NOW_MS - 10_001)
    result = compute_index([fresh_edge, old], NOW_MS, CONFIG)
    assert result.price == D(100)
    assert result.used == ("edge",)
    assert [(d.source, d.reason) for d in result.dropped] == [("old", DropReason.STALE)]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(SourceQuote("x", D(0), NOW_MS), id="a zero price is invalid"),
        pytest.param(SourceQuote("x", D(-1), NOW_MS), id="a negative price is invalid"),
        pytest.param(SourceQuote("x", D("NaN"), NOW_MS), id="a NaN price is invalid"),
        pytest.param(SourceQuote("x", 100.0, NOW_MS), id="a float price is invalid"),  # type: ignore[arg-type]
        pytest.param(SourceQuote("x", D(100), NOW_MS, D(0)), id="a zero weight is invalid"),
        pytest.param(SourceQuote("x", D(100), NOW_MS + 1), id="a future timestamp is invalid"),
    ],
)
def test_an_invalid_quote_is_dropped_not_raised(bad: SourceQuote) -> None:
    result = compute_index([bad, SourceQuote("ok", D(200), NOW_MS)], NOW_MS, CONFIG)
    assert result.price == D(200)
    assert [(d.source, d.reason) for d in result.dropped] == [("x", DropReason.INVALID)]


def test_with_no_fresh_source_there_is_no_price_and_require_price_raises() -> None:
    result = compute_index([SourceQuote("a", D(100), NOW_MS - 60_000)], NOW_MS, CONFIG)
    assert result.price is None
    assert result.failure is IndexFailure.NO_FRESH_SOURCES
    with pytest.raises(StaleMarketData):
        result.require_price()


def test_two_sources_14_percent_apart_have_no_consensus() -> None:
    # median 35000; both are 5000 / 35000 = 14.3% away, so nothing survives
    result = compute_index(quotes(["30000", "40000"]), NOW_MS, CONFIG)
    assert (result.price, result.failure) == (None, IndexFailure.NO_CONSENSUS)


def test_fewer_survivors_than_min_sources_gives_no_price() -> None:
    config = IndexConfig(max_deviation=D("0.05"), staleness_ms=10_000, min_sources=3)
    result = compute_index(quotes(["100", "101", "200"]), NOW_MS, config)
    assert (result.price, result.failure) == (None, IndexFailure.TOO_FEW_SOURCES)


def test_a_duplicate_source_name_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        compute_index([SourceQuote("a", D(1), NOW_MS)] * 2, NOW_MS, CONFIG)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_deviation": D("-0.01"), "staleness_ms": 1}, id="negative deviation"),
        pytest.param({"max_deviation": D("0.05"), "staleness_ms": -1}, id="negative staleness"),
        pytest.param(
            {"max_deviation": D("0.05"), "staleness_ms": 1, "min_sources": 0}, id="no quorum"
        ),
        pytest.param({"max_deviation": 0.05, "staleness_ms": 1}, id="float deviation"),
    ],
)
def test_a_bad_index_config_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        IndexConfig(**kwargs)  # type: ignore[arg-type]


offsets = st.integers(min_value=-100, max_value=100).map(lambda k: D(k) / 10_000)


@given(
    base=st.integers(min_value=1, max_value=10**7).map(D),
    honest_offsets=st.lists(offsets, min_size=2, max_size=8),
    weights=st.lists(st.integers(min_value=1, max_value=9).map(D), min_size=8, max_size=8),
    factor=st.one_of(
        st.integers(min_value=2, max_value=1000).map(D),
        st.integers(min_value=2, max_value=1000).map(lambda k: 1 / D(k)),
    ),
    position=st.integers(min_value=0, max_value=8),
)
def test_one_source_moved_far_away_does_not_change_the_index(
    base: Decimal,
    honest_offsets: list[Decimal],
    weights: list[Decimal],
    factor: Decimal,
    position: int,
) -> None:
    # honest sources within ±1% of base (so within ~2% of any median of them);
    # the moved source is at least 2× or at most 0.5× base, far beyond 5%
    honest = [
        SourceQuote(f"h{i}", base * (1 + e), NOW_MS, weights[i])
        for i, e in enumerate(honest_offsets)
    ]
    moved = SourceQuote("moved", base * factor, NOW_MS)
    book = [*honest]
    book.insert(min(position, len(book)), moved)
    without = compute_index(honest, NOW_MS, CONFIG)
    with_outlier = compute_index(book, NOW_MS, CONFIG)
    assert with_outlier.price == without.price
    assert [d.source for d in with_outlier.dropped] == ["moved"]


def test_the_public_api_is_exactly_all() -> None:
    public = {name for name in dir(market) if not name.startswith("_")}
    modules = {"funding", "guard", "index", "mark", "settlement", "annotations"}
    assert set(market.__all__) == public - modules
    assert all(getattr(market, name) is not None for name in market.__all__)


def test_the_market_layer_imports_only_units_and_errors_from_solvent() -> None:
    package = Path(market.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("solvent"):
                assert node.module in {"solvent.units", "solvent.errors"} or (
                    node.module or ""
                ).startswith("solvent.market"), f"{path.name} imports {node.module}"
