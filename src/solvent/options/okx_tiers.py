"""OKX's option position tiers as a standard rule set's margin factor.

OKX publishes the margin factor of each option position tier live, not in a document:
``GET /api/v5/public/position-tiers?instType=OPTION&tdMode=cross&instFamily=BTC-USD``. Each
entry of its ``data`` list names the instrument family (``instFamily``, ``BTC-USD`` for the
coin-margined options), the tier, the tier's smallest and largest size in contracts (``minSz``,
``maxSz``) and the factor (``optMgnFactor``); fields this reader does not need are ignored.
``read_okx_tiers`` takes that response (or its ``data`` list) as saved to a file and gives the
family's tiers; ``with_margin_tiers`` puts them into a rule set (``okx-options``) for one
underlying, keeping the rule set's contract size.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from itertools import pairwise

import msgspec

from solvent.errors import InvalidInput
from solvent.file_formats import read_as
from solvent.options.portfolio import OptionPortfolio
from solvent.options.rules import OptionRules, Tiers, margin_factor_tiers
from solvent.units import exact, plain, to_decimal

__all__ = ["okx_family", "read_okx_tiers", "rules_with_okx_tiers", "rules_with_okx_tiers_of", "with_margin_tiers"]

_TIER_NUMBER = re.compile(r"[0-9]{1,6}")


class _Entry(msgspec.Struct, kw_only=True, rename="camel"):
    inst_family: str
    tier: str
    min_sz: str
    max_sz: str
    opt_mgn_factor: str


class _Response(msgspec.Struct, kw_only=True):
    code: str
    msg: str = ""
    data: list[_Entry]


def okx_family(base: str, settle: str) -> str:
    """OKX's instrument family of options on ``base`` settled in ``settle``: ``BTC-USD`` for the
    coin-margined ones, ``BTC-USDC`` for those settled in USDC."""
    return f"{base}-USD" if settle == base else f"{base}-{settle}"


@exact
def read_okx_tiers(raw: object, family: str, what: str = "margin tiers") -> Tiers:
    """``family``'s tiers (largest size in contracts, factor; tier 1 first) from OKX's
    position-tiers response ``raw`` (decoded JSON: the whole response or its ``data`` list);
    ``InvalidInput`` naming the problem when the response is an error, holds no tier of that
    family, or its tiers do not follow one another."""
    if isinstance(raw, dict):
        response: _Response = read_as(raw, _Response, what)
        if response.code != "0":
            raise InvalidInput(f"{what}: OKX answered with error {response.code} ({response.msg or 'no message'})")
        entries = response.data
    else:
        entries = read_as(raw, list[_Entry], what)
    mine = [e for e in entries if e.inst_family == family]
    if not mine:
        found = sorted({e.inst_family for e in entries})
        raise InvalidInput(f"{what}: no tier of {family}; the file has {', '.join(found) or 'no tiers'}")
    rows: list[tuple[int, Decimal, Decimal, Decimal]] = []
    for e in mine:
        if not _TIER_NUMBER.fullmatch(e.tier):
            raise InvalidInput(f"{what}: {family} tier {e.tier!r} is not a tier number")
        low, high = to_decimal(e.min_sz, f"{what} minSz"), to_decimal(e.max_sz, f"{what} maxSz")
        factor = to_decimal(e.opt_mgn_factor, f"{what} optMgnFactor")
        if not (0 <= low <= high) or factor <= 0:
            raise InvalidInput(f"{what}: {family} tier {e.tier} needs 0 <= minSz <= maxSz and optMgnFactor > 0, "
                               f"got {e.min_sz}, {e.max_sz}, {e.opt_mgn_factor}")
        rows.append((int(e.tier), low, high, factor))
    rows.sort()
    if [r[0] for r in rows] != list(range(1, len(rows) + 1)):
        raise InvalidInput(f"{what}: {family}'s tiers must be numbered 1, 2, 3 … once each, "
                           f"got {', '.join(str(r[0]) for r in rows)}")
    if rows[0][1] != 0:
        raise InvalidInput(f"{what}: {family} tier 1 must start at 0 contracts, got {rows[0][1]}")
    for (n, _, high, _), (_, low, _, _) in pairwise(rows):
        if low not in (high, high + 1):  # OKX's sizes are whole contracts: no gap, no overlap
            raise InvalidInput(f"{what}: {family} tier {n + 1} must start where tier {n} ends, at {plain(high)} or "
                               f"{plain(high + 1)} contracts, got {plain(low)}")
    return tuple((high, factor) for _, _, high, factor in rows)


def with_margin_tiers(rules: OptionRules, base: str, tiers: Tiers) -> OptionRules:
    """``rules`` with ``base``'s margin factor tiers replaced by ``tiers`` (its contract size kept)."""
    if rules.standard is None:
        raise InvalidInput(f"option rules {rules.name} are not standard margin: margin tiers do not apply")
    standard = rules.standard.for_underlying(base, rules.name)
    if standard.margin_factor is None:
        raise InvalidInput(f"option rules {rules.name} have no margin factor tiers to replace")
    checked = margin_factor_tiers(standard.margin_factor.contract_size, tiers, f"{rules.name} {base} margin tiers")
    own = replace(standard, margin_factor=checked)
    if rules.standard.underlyings is None:
        return replace(rules, standard=own)
    return replace(rules, standard=replace(rules.standard, underlyings={**rules.standard.underlyings, base: own}))


def rules_with_okx_tiers(rules: OptionRules, portfolio: OptionPortfolio, raw: object,
                         what: str = "margin tiers") -> OptionRules:
    """``rules`` with the tiers of ``portfolio``'s instrument family from OKX's position-tiers
    response ``raw`` (what ``--margin-tiers`` and the API's ``margin_tiers`` give)."""
    return rules_with_okx_tiers_of(rules, (portfolio.base, portfolio.settle), raw, what)


def rules_with_okx_tiers_of(rules: OptionRules, underlying: tuple[str, str], raw: object,
                            what: str = "margin tiers") -> OptionRules:
    """``rules_with_okx_tiers`` for the family of ``underlying`` (coin, settlement asset): an
    order's (``portfolio.underlying_of``), when the portfolio holds nothing yet."""
    base, settle = underlying
    return with_margin_tiers(rules, base, read_okx_tiers(raw, okx_family(base, settle), what))
