"""A volatility surface input per expiry: a smile of strike-interpolated marks, or an SVI slice.

* ``StrikeSmile``: implied volatilities at listed strikes, interpolated linearly in strike
  between them and held flat beyond the first and the last (no extrapolated wings).
* ``SviSlice``: Gatheral's raw SVI, total implied variance in log-moneyness ``k = ln(K / F)``::

      w(k) = a + b (ρ (k − m) + √((k − m)² + σ²)),   σ_implied(K) = √(w(k) / T)

  with ``b ≥ 0``, ``|ρ| < 1``, ``σ > 0`` and ``a + b σ √(1 − ρ²) ≥ 0`` (the least total
  variance is not negative).

In a portfolio file (``options.portfolio``), ``surface`` maps an expiry (``BTC-27MAR27``) to
``{"strikes": [...], "vols": [...]}`` or ``{"svi": {"a": ..., "b": ..., "rho": ..., "m": ...,
"sigma": ...}}``; an option given no ``vol`` takes its expiry's surface at its strike.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

from solvent.errors import InvalidInput

__all__ = ["StrikeSmile", "SviSlice", "read_surface"]


def _finite(value: object, name: str) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise InvalidInput(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{name}: {value!r} is not a finite number")
    return number


@dataclass(frozen=True, slots=True)
class StrikeSmile:
    strikes: tuple[float, ...]
    vols: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.strikes) < 1 or len(self.strikes) != len(self.vols):
            raise InvalidInput("a smile needs as many vols as strikes, at least one")
        pairs = zip(self.strikes, self.strikes[1:], strict=False)
        if any(k <= 0 for k in self.strikes) or any(b <= a for a, b in pairs):
            raise InvalidInput("a smile's strikes must be > 0 and increasing")
        if any(v <= 0 for v in self.vols):
            raise InvalidInput("a smile's vols must be > 0")

    def vol_at(self, strike: float, forward: float, years: float) -> float:
        """Linear in strike between listed strikes, flat beyond them."""
        del forward, years
        ks, vs = self.strikes, self.vols
        if strike <= ks[0]:
            return vs[0]
        if strike >= ks[-1]:
            return vs[-1]
        hi = bisect.bisect_right(ks, strike)
        lo = hi - 1
        share = (strike - ks[lo]) / (ks[hi] - ks[lo])
        return vs[lo] + share * (vs[hi] - vs[lo])


@dataclass(frozen=True, slots=True)
class SviSlice:
    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def __post_init__(self) -> None:
        if self.b < 0 or not -1 < self.rho < 1 or self.sigma <= 0:
            raise InvalidInput("an SVI slice needs b >= 0, -1 < rho < 1 and sigma > 0")
        if self.a + self.b * self.sigma * math.sqrt(1 - self.rho * self.rho) < 0:
            raise InvalidInput("an SVI slice's least total variance a + b sigma sqrt(1 - rho^2) is negative")

    def total_variance(self, k: float) -> float:
        d = k - self.m
        return self.a + self.b * (self.rho * d + math.sqrt(d * d + self.sigma * self.sigma))

    def vol_at(self, strike: float, forward: float, years: float) -> float:
        if years <= 0:
            raise InvalidInput("an SVI slice prices options with time to expiry > 0")
        w = self.total_variance(math.log(strike / forward))
        if w <= 0:
            raise InvalidInput(f"the SVI slice gives no positive variance at strike {strike}")
        return math.sqrt(w / years)


Surface = StrikeSmile | SviSlice


def read_surface(raw: object, where: str) -> Surface:
    """One expiry's surface from decoded JSON (module docstring)."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: a surface is an object with strikes and vols, or svi")
    body: dict[str, Any] = raw
    if set(body) == {"svi"} and isinstance(body["svi"], dict):
        svi: dict[str, Any] = body["svi"]
        if set(svi) != {"a", "b", "rho", "m", "sigma"}:
            raise InvalidInput(f"{where}.svi: needs exactly a, b, rho, m and sigma")
        numbers = [_finite(svi[k], f"{where}.svi.{k}") for k in ("a", "b", "rho", "m", "sigma")]
        try:
            return SviSlice(*numbers)
        except InvalidInput as bad:  # the slice's own check names no place: say which expiry's
            raise InvalidInput(f"{where}.svi: {bad}") from None
    if set(body) == {"strikes", "vols"} and isinstance(body["strikes"], list) and isinstance(body["vols"], list):
        strikes = tuple(_finite(k, f"{where}.strikes") for k in body["strikes"])
        vols = tuple(_finite(v, f"{where}.vols") for v in body["vols"])
        try:
            return StrikeSmile(strikes, vols)
        except InvalidInput as bad:
            raise InvalidInput(f"{where}: {bad}") from None
    raise InvalidInput(f"{where}: a surface is {{\"strikes\": [...], \"vols\": [...]}} or {{\"svi\": {{...}}}}")
