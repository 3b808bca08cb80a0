"""The value the worker keeps per session in its Faust table (and so in the changelog).

A small fixed header, then the session state as :func:`streams.state_codec.encode_state`
writes it::

    byte 0      format (1)
    byte 1      flags: bit 0 = the current batch was dirty when written
    bytes 2-5   raw-topic partition of the last event applied (signed 32-bit, big endian)
    bytes 6-13  raw-topic offset of the last event applied (signed 64-bit, big endian)
    bytes 14-   encode_state(state)

The offset makes replays exact: after a crash the worker reads again every event after the
last committed offset, and an event at or below the stored offset (same partition) has its
effect in the state already, so it is skipped, however many events the session received
since (the fold's 512 recent event ids alone would not cover a hot session).
The dirty flag lets a worker that takes over partitions find the sessions with unsent
changes by reading headers only, without decoding every state.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from streams.session_state import SessionState
from streams.state_codec import decode_state, encode_state

FORMAT = 1
FLAG_DIRTY = 0x01
_HEADER = struct.Struct(">BBiq")
HEADER_SIZE = _HEADER.size
NO_OFFSET = -1


class TableValueError(ValueError):
    """Bytes that are not a stored session of this format."""


@dataclass(frozen=True, slots=True)
class StoredHeader:
    """What the header of a stored session says."""

    dirty: bool
    partition: int
    offset: int


@dataclass(slots=True)
class StoredSession:
    """A decoded session state and the raw-topic position of the last event applied to it."""

    state: SessionState
    partition: int
    offset: int = NO_OFFSET

    def already_applied(self, partition: int, offset: int) -> bool:
        """Whether the raw record at (partition, offset) is reflected in this state."""
        return partition == self.partition and offset <= self.offset


def encode_stored(stored: StoredSession) -> bytes:
    """The table value of ``stored``."""
    flags = FLAG_DIRTY if stored.state.batch.dirty else 0
    return _HEADER.pack(FORMAT, flags, stored.partition, stored.offset) + encode_state(stored.state)


def read_header(value: bytes) -> StoredHeader:
    """The header of a table value, without decoding the state."""
    if len(value) < HEADER_SIZE:
        raise TableValueError(f"stored session too short ({len(value)} bytes)")
    fmt, flags, partition, offset = _HEADER.unpack_from(value)
    if fmt != FORMAT:
        raise TableValueError(f"unknown stored session format {fmt}")
    return StoredHeader(bool(flags & FLAG_DIRTY), partition, offset)


def decode_stored(value: bytes) -> StoredSession:
    """The stored session that :func:`encode_stored` encoded."""
    header = read_header(value)
    try:
        state = decode_state(value[HEADER_SIZE:])
    except ValueError as exc:
        raise TableValueError(str(exc)) from exc
    return StoredSession(state, header.partition, header.offset)
