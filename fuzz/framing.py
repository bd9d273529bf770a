"""How a target reads its context from its input: consecutive fields in front of the payload.

Every byte string is a valid framing (a field that runs past the end is simply short), so the
fuzzer never wastes inputs on the framing itself, and a mutation that lands in a field changes the
verification time, challenge, key id ... the verifier is called with. :func:`pack` and friends
build the same layout for the seed corpus (``fuzz/make_corpus.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: 9999-12-31T23:59:59.999Z in milliseconds since the epoch: the last instant a datetime can hold.
_MAX_MILLISECONDS = 253_402_300_799_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Fields:
    """Reads fields front to back."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def fixed(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end of the input)."""
        value = self._data[self._offset : self._offset + size]
        self._offset += len(value)
        return value

    def uint(self, size: int) -> int:
        """An unsigned big-endian integer of ``size`` bytes."""
        return int.from_bytes(self.fixed(size), "big")

    def chunk(self) -> bytes:
        """A byte string prefixed by its 2-byte length."""
        return self.fixed(self.uint(2))

    def instant(self) -> datetime:
        """A UTC time from 8 bytes of milliseconds since the epoch (wrapped into datetime's range)."""
        return _EPOCH + timedelta(milliseconds=self.uint(8) % (_MAX_MILLISECONDS + 1))

    def rest(self) -> bytes:
        """Everything not read yet: the payload."""
        value = self._data[self._offset :]
        self._offset = len(self._data)
        return value


def uint(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def chunk(value: bytes) -> bytes:
    return uint(len(value), 2) + value


def instant(at: datetime) -> bytes:
    return uint((at - _EPOCH) // timedelta(milliseconds=1), 8)


def pack(*fields: bytes) -> bytes:
    return b"".join(fields)
