"""Option types shared by the commands."""

from __future__ import annotations

import math
from typing import Any

import click

from solvent.text import whole_number

__all__ = ["FiniteFloatRange", "WholeNumber"]



class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses NaN (which passes every comparison) and infinities."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class WholeNumber(click.IntRange):
    """``click.IntRange`` (no bounds by default) that reads only a whole number in ASCII digits,
    with a minus sign if any: click converts with ``int()``, which also takes ``0_60`` (a typo
    of ``060``? ``0.60``?), ``+5``, `` 7 `` and other scripts' digits. A leading zero is refused,
    as the service refuses it in a query (``010``: octal to some, ten to others)."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not _written_whole(value):
            self.fail(f"{value!r} is not a whole number written in the digits 0-9 (no sign but a minus, no "
                      "underscore, point, space or leading zero; at most 19 digits).", param, ctx)
        return super().convert(value, param, ctx)

    def _describe_range(self) -> str:
        """No range shown when there is none (click would print ``x<=None``)."""
        return "" if self.min is None and self.max is None else super()._describe_range()


def _written_whole(text: str) -> bool:
    """A whole number in ASCII digits (``text.whole_number``), or a minus and a non-zero one."""
    if text.startswith("-"):
        return whole_number(text[1:]) not in (None, 0)
    return whole_number(text) is not None
