"""Explicit time: the clock type and JWT NumericDate conversions (RFC 7519 section 2).

Nothing in the token layer reads the system clock; callers pass ``now`` (or a :data:`Clock`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from attest.errors import ConfigurationError

#: A source of the current time; must return timezone-aware datetimes.
Clock = Callable[[], datetime]

# NumericDate values past year 9999 cannot become datetimes; no genuine token carries one.
_MAX_NUMERIC_DATE = 253_402_300_799


def require_aware(value: datetime, name: str = "now") -> datetime:
    """``value`` itself, refusing naive datetimes (whose meaning depends on the host's zone)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def to_numeric_date(value: datetime) -> int:
    """Seconds since the epoch, rounded down (RFC 7519 section 2, NumericDate)."""
    return math.floor(require_aware(value).timestamp())


def is_numeric_date(value: object) -> bool:
    """Whether ``value`` is a JSON number usable as a NumericDate (not a bool, finite, in range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):  # no float conversion: a 400-digit integer must not overflow
        return 0 <= value <= _MAX_NUMERIC_DATE
    return math.isfinite(value) and 0 <= value <= _MAX_NUMERIC_DATE


def from_numeric_date(value: float) -> datetime:
    """The UTC datetime of a NumericDate already checked with :func:`is_numeric_date`."""
    return datetime.fromtimestamp(value, UTC)
