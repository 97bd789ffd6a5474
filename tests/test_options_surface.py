"""Volatility surface input: a strike-interpolated smile and an SVI slice, by hand."""

from __future__ import annotations

import math

import pytest

from solvent.errors import InvalidInput
from solvent.options import read_portfolio
from solvent.options.surface import StrikeSmile, SviSlice, read_surface


def test_a_smile_interpolates_linearly_in_strike_and_is_flat_beyond() -> None:
    smile = StrikeSmile((90_000.0, 100_000.0, 120_000.0), (0.70, 0.60, 0.55))
    assert smile.vol_at(95_000, 1, 1) == pytest.approx(0.65)  # halfway from 0.70 to 0.60
    assert smile.vol_at(115_000, 1, 1) == pytest.approx(0.5625)  # three quarters from 0.60 to 0.55
    assert smile.vol_at(100_000, 1, 1) == 0.60
    assert smile.vol_at(50_000, 1, 1) == 0.70 and smile.vol_at(500_000, 1, 1) == 0.55


def test_an_svi_slice_by_hand() -> None:
    """a 0.04, b 0.4, ρ −0.4, m 0, σ 0.1, T 0.25. At the money (k = 0): w = 0.04 + 0.4 × 0.1 =
    0.08, σ_impl = √(0.08 / 0.25) = 0.565685...; at K = F e^0.2: w = 0.04 + 0.4 (−0.08 +
    √(0.04 + 0.01)) = 0.04 + 0.4 × 0.143607 = 0.097443."""
    svi = SviSlice(0.04, 0.4, -0.4, 0.0, 0.1)
    assert svi.vol_at(100_000, 100_000, 0.25) == pytest.approx(math.sqrt(0.08 / 0.25), abs=1e-15)
    w = 0.04 + 0.4 * (-0.4 * 0.2 + math.sqrt(0.2 ** 2 + 0.1 ** 2))
    assert round(w, 6) == 0.097443
    assert svi.vol_at(100_000 * math.exp(0.2), 100_000, 0.25) == pytest.approx(math.sqrt(w / 0.25), abs=1e-12)


@pytest.mark.parametrize(("raw", "message"), [
    ({"strikes": [100, 90], "vols": [0.5, 0.6]}, "increasing"),
    ({"strikes": [100], "vols": [0.5, 0.6]}, "as many vols"),
    ({"strikes": [100], "vols": [0]}, "> 0"),
    ({"strikes": ["x"], "vols": [0.5]}, "not a number"),
    ({"strikes": [100], "vols": ["nan"]}, "finite"),
    ({"svi": {"a": -1, "b": 0.1, "rho": 0, "m": 0, "sigma": 0.1}}, "negative"),
    ({"svi": {"a": 0.04, "b": 0.1, "rho": 1, "m": 0, "sigma": 0.1}}, "rho"),
    ({"svi": {"a": 0.04}}, "exactly"),
    ([1, 2], "an object"),
    ({"strikes": [100]}, "strikes"),
])
def test_a_bad_surface_is_refused(raw: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_surface(raw, "surface.BTC-27MAR27")


def test_an_option_without_a_vol_takes_its_expirys_surface() -> None:
    smile = {"strikes": ["90000", "100000", "120000"], "vols": ["0.70", "0.60", "0.55"]}
    book = read_portfolio({"now": "2027-02-25T08:00:00Z", "index": {"BTC": "100000"},
                           "surface": {"BTC-27MAR27": smile},
                           "positions": [{"instrument": "BTC-27MAR27-95000-P", "qty": "-1", "mark": "0.02"},
                                         {"instrument": "BTC-27MAR27-110000-C", "qty": "-1", "mark": "0.02",
                                          "vol": "0.9"},
                                         {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.02"}]})
    first, second, third = book.options
    assert (first.vol, first.vol_source) == (pytest.approx(0.65), "surface")
    assert (second.vol, second.vol_source) == (0.9, "given")  # a given vol wins
    assert third.vol_source == "implied"  # another expiry: implied from its mark
