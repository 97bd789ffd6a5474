"""Request bodies (msgspec): decimals travel as strings, never JSON numbers.

A JSON float (or any number) where a decimal is expected fails validation with 400
``INVALID_REQUEST``; so do unknown fields. Each body maps to one engine command.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from solvent.text import ID_PATTERN

__all__ = [
    "DecimalStr", "DepositBody", "FillBody", "Id", "InsuranceBody", "IsolatedMarginBody", "LeverageBody",
    "MarginModeBody", "OptionMarginBody", "OptionPriceBody", "OrderBody", "PriceBody", "Symbol", "TimeBody",
    "WithdrawBody",
]

DECIMAL_PATTERN = r"^[0-9]{1,24}(\.[0-9]{1,18})?$(?![\s\S])"
r"""A decimal a request writes: plain digits, no sign, exponent or space (``(?![\s\S])``: the
end of the text, as for ``text.ID_PATTERN``). The one rule for bodies and queries alike."""
DecimalStr = Annotated[str, msgspec.Meta(
    pattern=DECIMAL_PATTERN, max_length=43,
    description="An exact non-negative decimal as a string, e.g. \"1250.5\"", examples=["1250.5"],
)]
SIGNED_DECIMAL_PATTERN = r"^-?[0-9]{1,24}(\.[0-9]{1,18})?$(?![\s\S])"
SignedDecimalStr = Annotated[str, msgspec.Meta(
    pattern=SIGNED_DECIMAL_PATTERN, max_length=44,
    description="An exact decimal as a string, with a minus sign if below zero, e.g. \"-0.01\"", examples=["-0.01"],
)]
Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="An identifier")]
SYMBOL_PATTERN = (r"^(?=.*[A-Za-z0-9])[^\s\x00-\x1f\x7f-\x9f/\\?#%<>\"'`&\u200b-\u200f\u2028-\u202e\u2060-\u206f"
                  r"\ufeff\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0]{1,64}"
                  r"$(?![\s\S])")
"""A symbol: 1–64 characters, at least one an ASCII letter or digit, none a space, a control
character, one a URL or HTML treats specially (``/ \\ ? # % < > " ' ` &``), an invisible one
(zero-width, a byte-order mark, a soft hyphen, a filler or a variation selector) or one that
reorders text (bidirectional controls, U+061C among them). Wider
than ``ID_PATTERN``: a venue names its own instruments, and Binance lists USDⓈ-M perpetuals
written in Chinese characters (``龙虾USDT``), which the id pattern refused, so they could not
be traded or priced over HTTP (found by a new-user pass). The venue's symbol list is the
authority: any other symbol is ``UNKNOWN_SYMBOL``."""
Symbol = Annotated[str, msgspec.Meta(pattern=SYMBOL_PATTERN, description="An instrument's symbol, as the venue "
                                                                          "names it")]
SideName = Literal["long", "short"]
PositionSideName = Literal["both", "long", "short"]
OptionRulesName = Literal["deribit-pm", "deribit-standard", "okx-options", "span-16"]
"""The bundled option rule sets (``options.bundled_option_rules``; a test holds the two equal)."""


_PATTERN_WORDS = {
    DECIMAL_PATTERN: "a decimal string in plain digits (no sign, exponent or space; at most 24 digits before the "
                     "point and 18 after), e.g. \"1250.5\"",
    SIGNED_DECIMAL_PATTERN: "a decimal string in plain digits, with a minus sign if below zero (no exponent or space), "
                            "e.g. \"-0.01\"",
    ID_PATTERN: "an id: 1–64 of A-Z a-z 0-9 _ . : @ -, at least one a letter or digit",
    SYMBOL_PATTERN: "a symbol: 1–64 characters, at least one an ASCII letter or digit, with no space, control or "
                    "invisible character and none of / \\ ? # % < > \" ' ` &",
}


def explained(bad: msgspec.ValidationError) -> str:
    """A body's validation error in words: msgspec names a pattern by the regex itself (found by
    a new-user pass: ``"forward": "-5"`` was answered with the decimal pattern's source)."""
    text = str(bad)
    for pattern, words in _PATTERN_WORDS.items():
        text = text.replace(f"`str` matching regex {pattern!r}", words)
    return text


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class DepositBody(_Body, kw_only=True):
    asset: Id | None = None
    """Left out: the venue's settlement asset (USDT on binance-usdm, USDC on hyperliquid, ...)."""
    amount: DecimalStr


class WithdrawBody(_Body, kw_only=True):
    asset: Id | None = None
    """Left out: the venue's settlement asset."""
    amount: DecimalStr


class OrderBody(_Body, kw_only=True):
    order_id: Id
    symbol: Symbol
    side: SideName
    qty: DecimalStr
    price: DecimalStr
    reduce_only: bool = False
    position_side: PositionSideName = "both"


class LeverageBody(_Body, kw_only=True):
    symbol: Symbol
    leverage: DecimalStr


class MarginModeBody(_Body, kw_only=True):
    symbol: Symbol
    mode: Literal["cross", "isolated"]


class IsolatedMarginBody(_Body, kw_only=True):
    """Margin moved between the account's wallet and one of its isolated positions."""

    symbol: Symbol
    amount: DecimalStr
    type: Literal["add", "remove"]
    position_side: PositionSideName = "both"


class InsuranceBody(_Body, kw_only=True):
    amount: DecimalStr


class FillBody(_Body, kw_only=True):
    trade_id: Id
    symbol: Symbol
    price: DecimalStr
    qty: DecimalStr
    buyer_id: Id
    seller_id: Id
    buyer_fee: DecimalStr = "0"
    seller_fee: DecimalStr = "0"
    buy_order_id: Id | None = None
    sell_order_id: Id | None = None
    buyer_position_side: PositionSideName = "both"
    seller_position_side: PositionSideName = "both"


class PriceBody(_Body, kw_only=True):
    symbol: Symbol
    price: DecimalStr
    source: Id = "api"


class TimeBody(_Body, kw_only=True):
    now_ms: Annotated[int, msgspec.Meta(ge=0, le=2**53)]


class OptionPriceBody(_Body, kw_only=True):
    """``POST /v1/options/price``: one European option (``docs/options.md``)."""

    type: Literal["call", "put"]
    forward: DecimalStr
    strike: DecimalStr
    expiry_days: DecimalStr
    vol: DecimalStr | None = None
    premium: DecimalStr | None = None
    rate: SignedDecimalStr = "0"
    """The continuously compounded rate, from −1 to 1 (``options.report.price_option``): it may be
    below zero (it could not over HTTP while the CLI took it; found by a new-user pass)."""
    inverse: bool = False


class OptionMarginBody(_Body, kw_only=True):
    """``POST /v1/options/margin``: a rule set and a portfolio in the file's form."""

    rules: OptionRulesName
    portfolio: dict[str, object]
    margin_tiers: dict[str, object] | list[object] | None = None
    """OKX's option position tiers (its ``position-tiers`` answer) for ``okx-options``."""


class OptionOrderBody(_Body, kw_only=True):
    """An order in ``POST /v1/options/check`` (``options.pretrade.OptionOrder``)."""

    instrument: Annotated[str, msgspec.Meta(max_length=64)]
    qty: SignedDecimalStr
    price: DecimalStr
    vol: DecimalStr | None = None
    forward: DecimalStr | None = None
    fee: DecimalStr = "0"


class OptionCheckBody(_Body, kw_only=True):
    """``POST /v1/options/check``: would an order on the portfolio be accepted (nothing changes)."""

    rules: OptionRulesName
    portfolio: dict[str, object]
    order: OptionOrderBody
    margin_tiers: dict[str, object] | list[object] | None = None


class OptionLiquidationBody(_Body, kw_only=True):
    """``POST /v1/options/liquidation``: a liquidation plan for a portfolio below maintenance
    (``options.liquidation.plan_liquidation``); nothing is traded."""

    rules: OptionRulesName
    portfolio: dict[str, object]
    step: DecimalStr = "0.25"
    max_steps: Annotated[int, msgspec.Meta(ge=1, le=40)] = 40
    untradable: Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=100)] = []
    margin_tiers: dict[str, object] | list[object] | None = None
    """OKX's option position tiers (its ``position-tiers`` answer) for ``okx-options``."""


class OptionSettleBody(_Body, kw_only=True):
    """``POST /v1/options/settle``: a settlement file's content and, with ``rules``, a portfolio
    held up to the expiry (``options.expiry_settlement``)."""

    settlement: dict[str, object]
    portfolio: dict[str, object] | None = None
    rules: OptionRulesName | None = None
