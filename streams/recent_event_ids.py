"""The last N accepted event ids of one session (SPEC 2.1, duplicates), stored compactly.

Every accepted ``event_id`` is a UUID in 8-4-4-4-12 hexadecimal form, compared in lower case
(validation guarantees the form). Each one is kept as its 16 bytes in one ``bytearray`` ring
of N slots: 16 bytes an id instead of a 36-character ``str`` plus a set entry (about 150
bytes). :meth:`RecentEventIds.contains` scans the ring with ``bytearray.find`` (aligned hits
only), which at N = 512 (8 KiB) takes about 2 microseconds in the worst case.

An id that is not such a UUID cannot come from validation; should one come anyway it is kept
exactly (its lower-case text, in a small side table keyed by its slot) and compared exactly:
duplicate detection never truncates or hashes ids.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["RECENT_EVENT_IDS", "RecentEventIds", "uuid_bytes", "uuid_text"]

RECENT_EVENT_IDS = 512
"""How many accepted event ids a session remembers for duplicate detection (SPEC 2.1)."""

ID_SIZE = 16
"""Bytes of one UUID."""

_COUNT = struct.Struct(">H")
_ODD_ENTRY = struct.Struct(">HI")  # logical position (0 = oldest), UTF-8 length

_memo: tuple[str, bytes | None] = ("", None)
"""The last conversion: the fold converts the same id for ``contains`` and then ``remember``."""


def uuid_bytes(text: str) -> bytes | None:
    """The 16 bytes of a UUID in 8-4-4-4-12 hexadecimal form (either case); None otherwise."""
    global _memo
    memo = _memo
    if memo[0] is text:
        return memo[1]
    value: bytes | None = None
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-":
        # unhexlify takes exactly 32 ASCII hexadecimal digits here: no other hyphen, no space
        try:
            value = binascii.unhexlify(text.replace("-", ""))
        except ValueError:  # binascii.Error is a ValueError
            value = None
    _memo = (text, value)
    return value


def uuid_text(value: bytes) -> str:
    """The canonical lower-case 8-4-4-4-12 text of 16 UUID bytes."""
    h = value.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _checked_capacity(capacity: int) -> int:
    if not 0 < capacity <= 0xFFFF:  # to_bytes writes the count in 2 bytes
        raise ValueError(f"capacity must be 1..65535, not {capacity}")
    return capacity


class RecentEventIds:
    """The last ``capacity`` remembered event ids, oldest first; compared in lower case.

    ``remember`` does not check for duplicates (the fold calls ``contains`` first). Equality is
    by capacity and by the ids in order. Mutable, so not hashable.
    """

    __slots__ = ("_buf", "_capacity", "_head", "_odd")

    def __init__(self, ids: Iterable[str] = (), *, capacity: int = RECENT_EVENT_IDS) -> None:
        self._capacity = _checked_capacity(capacity)
        self._buf = bytearray()  # slots; once full, _head is the oldest slot
        self._head = 0
        self._odd: dict[int, str] | None = None  # slot -> lower-case text of a non-UUID id
        for event_id in ids:
            self.remember(event_id)

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return len(self._buf) // ID_SIZE

    def contains(self, event_id: str) -> bool:
        """Whether ``event_id`` (either case) is one of the remembered ids."""
        key = uuid_bytes(event_id)
        odd = self._odd
        if key is None:
            return odd is not None and event_id.lower() in odd.values()
        buf = self._buf
        pos = buf.find(key)
        while pos >= 0:
            if not pos % ID_SIZE and (odd is None or pos // ID_SIZE not in odd):
                return True
            pos = buf.find(key, pos + 1)
        return False

    def remember(self, event_id: str) -> None:
        """Add ``event_id`` as the newest id; beyond ``capacity`` ids, the oldest is forgotten."""
        key = uuid_bytes(event_id)
        buf = self._buf
        full = len(buf) == self._capacity * ID_SIZE
        slot = self._head if full else len(buf) // ID_SIZE
        odd = self._odd
        if odd is not None and slot in odd:
            del odd[slot]
            if not odd:
                odd = self._odd = None
        if key is None:
            key = bytes(ID_SIZE)
            if odd is None:
                odd = self._odd = {}
            odd[slot] = event_id.lower()
        if full:
            start = slot * ID_SIZE
            buf[start : start + ID_SIZE] = key
            self._head = (slot + 1) % self._capacity
        else:
            buf += key

    def _ordered(self, prefix: bytes = b"") -> bytes:
        """``prefix``, then the slots oldest first."""
        buf = self._buf
        start = self._head * ID_SIZE
        if start == 0:
            return prefix + buf
        return b"".join((prefix, memoryview(buf)[start:], memoryview(buf)[:start]))

    def _odd_by_position(self) -> dict[int, str]:
        """The non-UUID ids by logical position (0 = oldest)."""
        odd = self._odd
        if odd is None:
            return {}
        slots = len(self)
        return {(slot - self._head) % slots: text for slot, text in odd.items()}

    def __iter__(self) -> Iterator[str]:
        ordered = self._ordered()
        odd = self._odd_by_position()
        for position in range(len(ordered) // ID_SIZE):
            text = odd.get(position)
            if text is None:
                text = uuid_text(ordered[position * ID_SIZE : (position + 1) * ID_SIZE])
            yield text

    def as_list(self) -> list[str]:
        """The remembered ids, oldest first, as lower-case text."""
        return list(self)

    def to_bytes(self) -> bytes:
        """Compact form: id count (2 bytes), the 16-byte ids oldest first, then any non-UUID
        id as (position, length, UTF-8 text)."""
        packed = self._ordered(_COUNT.pack(len(self)))
        if self._odd is None:
            return packed
        parts = [packed]
        for position, text in sorted(self._odd_by_position().items()):
            encoded = text.encode("utf-8", "surrogatepass")
            parts.append(_ODD_ENTRY.pack(position, len(encoded)))
            parts.append(encoded)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, *, capacity: int = RECENT_EVENT_IDS) -> RecentEventIds:
        """The ids :meth:`to_bytes` wrote; ValueError for anything else.

        More ids than ``capacity``: the newest ``capacity`` ones are kept.
        """
        _checked_capacity(capacity)
        if len(data) < _COUNT.size:
            raise ValueError("recent event ids: no count")
        (count,) = _COUNT.unpack_from(data)
        end = _COUNT.size + count * ID_SIZE
        if len(data) == end and count <= capacity:  # the common case: only UUIDs
            result = cls.__new__(cls)
            result._capacity = capacity
            result._buf = bytearray(memoryview(data)[_COUNT.size :])
            result._head = 0
            result._odd = None
            return result
        if len(data) < end:
            raise ValueError(f"recent event ids: {count} ids announced, fewer present")
        odd: dict[int, str] = {}
        offset = end
        while offset < len(data):
            if len(data) - offset < _ODD_ENTRY.size:
                raise ValueError("recent event ids: truncated entry")
            position, size = _ODD_ENTRY.unpack_from(data, offset)
            offset += _ODD_ENTRY.size
            if position >= count or position in odd or len(data) - offset < size:
                raise ValueError("recent event ids: bad entry")
            text = bytes(data[offset : offset + size]).decode("utf-8", "surrogatepass")
            odd[position] = text
            offset += size
        dropped = max(0, count - capacity)
        result = cls(capacity=capacity)
        buf = result._buf = bytearray(data[_COUNT.size + dropped * ID_SIZE : end])
        kept = {position - dropped: text for position, text in odd.items() if position >= dropped}
        for position in kept:  # as remember() leaves them: zeros, never a match
            buf[position * ID_SIZE : (position + 1) * ID_SIZE] = bytes(ID_SIZE)
        result._odd = kept or None
        return result

    def copy(self) -> RecentEventIds:
        result = RecentEventIds.__new__(RecentEventIds)
        result._capacity = self._capacity
        result._buf = bytearray(self._buf)
        result._head = self._head
        result._odd = None if self._odd is None else dict(self._odd)
        return result

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> RecentEventIds:
        return self.copy()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecentEventIds):
            return NotImplemented
        return (
            self._capacity == other._capacity
            and self._ordered() == other._ordered()
            and self._odd_by_position() == other._odd_by_position()
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RecentEventIds({self.as_list()!r}, capacity={self._capacity})"
