"""Money as integers: minor units to decimal strings and back, with integer arithmetic only.

Amounts are ``int`` minor units of an asset whose ``scale`` is the number of decimal places
(CNY: 2, so 12345 is ``"123.45"``). No float ever touches an amount.
"""

from __future__ import annotations

import re

MAX_SCALE = 18
"""The largest asset scale formatted or parsed (the token's assets use far fewer)."""
MAX_DECIMAL_DIGITS = 40
"""Digits in a decimal amount accepted by ``parse_decimal`` (well above 2**63)."""

POWERS_OF_TEN: tuple[int, ...] = tuple(10**places for places in range(MAX_SCALE + 1))
"""``10**places`` for each scale, typed ``int`` (``10**n`` is not, to the type checker)."""

_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")


def check_scale(scale: int) -> None:
    if not 0 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be 0..{MAX_SCALE}, not {scale}")


def format_minor(amount_minor: int, scale: int) -> str:
    """``amount_minor`` as a decimal string with exactly ``scale`` places: ``-1`` at scale 2 is
    ``"-0.01"``."""
    check_scale(scale)
    sign = "-" if amount_minor < 0 else ""
    units, fraction = divmod(abs(amount_minor), POWERS_OF_TEN[scale])
    if scale == 0:
        return f"{sign}{units}"
    return f"{sign}{units}.{fraction:0{scale}d}"


def parse_decimal(text: str, scale: int) -> int | None:
    """The minor units of a decimal string (``"123.45"`` at scale 2 is 12345), or ``None`` if
    it is not a plain decimal (no exponent, no ``+``, no grouping) or has non-zero digits beyond
    ``scale`` places."""
    check_scale(scale)
    match = _DECIMAL.fullmatch(text)
    if match is None or len(text) > MAX_DECIMAL_DIGITS + 2:
        return None
    sign, units, fraction = match.group(1), match.group(2), match.group(3) or ""
    if len(fraction) > scale:
        if fraction[scale:].strip("0"):
            return None
        fraction = fraction[:scale]
    magnitude = int(units) * POWERS_OF_TEN[scale] + int(fraction.ljust(scale, "0") or "0")
    return -magnitude if sign else magnitude
