"""The worker's session cache: staged (unwritten) states, eviction, revocation, the write.

The Faust table and producer here are stand-ins holding only what SessionTable touches (a
dict of stored values, the changelog topic name, a send returning an acknowledgement); no Kafka
behaviour is imitated. The worker integration and fault tests prove the writes on a real broker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP

from streams.session_state import new_session_state
from streams.session_table import SessionTable
from streams.table_value import StoredSession, decode_stored

CHANGELOG = "app-sessions-changelog"


class Data(dict[bytes, bytes]):
    def __init__(self) -> None:
        super().__init__()
        self.persisted: dict[TP, int] = {}

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        self.persisted[tp] = offset


@dataclass
class TableStandIn:
    data: Data = field(default_factory=Data)
    changelog_topic_name: str = CHANGELOG


@dataclass
class Ack:
    partition: int
    offset: int


@dataclass
class ProducerStandIn:
    sent: list[tuple[str, bytes, int]] = field(default_factory=list)

    async def send(self, topic: str, key: bytes, value: bytes, partition: int, *_: Any) -> Any:
        self.sent.append((topic, key, partition))
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        future.set_result(Ack(partition, len(self.sent) - 1))
        return future


@dataclass
class AppStandIn:
    producer: ProducerStandIn = field(default_factory=ProducerStandIn)


def stored(key: bytes, partition: int, offset: int) -> StoredSession:
    return StoredSession(new_session_state(key.decode()), partition, offset)


async def test_staged_states_are_written_once_each_and_never_evicted_before() -> None:
    app, table = AppStandIn(), TableStandIn()
    sessions = SessionTable(app, table, cache_size=2)
    for offset, key in enumerate([b"a", b"b", b"a", b"c", b"a"]):
        sessions.stage(key, stored(key, 0, offset), 0)
    sessions.trim()
    assert sessions.cached == 3 and sessions.unwritten == 3  # over the size: all unwritten
    assert table.data == {}

    assert await sessions.write_staged() == 3  # one record per session, not per event
    assert [key for _, key, _ in app.producer.sent] == [b"a", b"b", b"c"]
    assert decode_stored(table.data[b"a"]).offset == 4  # the latest state
    assert table.data.persisted == {TP(CHANGELOG, 0): 2}
    assert sessions.unwritten == 0 and await sessions.write_staged() == 0

    sessions.trim()
    assert sessions.cached == 2  # written states may go: b (least recently used) is evicted
    assert sessions.get_any(b"b") is not None  # read back from the table


async def test_revoked_partitions_lose_their_unwritten_states() -> None:
    app, table = AppStandIn(), TableStandIn()
    sessions = SessionTable(app, table, cache_size=10)
    sessions.stage(b"p0", stored(b"p0", 0, 1), 0)
    sessions.stage(b"p1", stored(b"p1", 1, 1), 1)
    assert sessions.drop_partitions({1}) == 1
    assert sessions.unwritten == 1
    assert await sessions.write_staged() == 1
    assert set(table.data) == {b"p0"}  # the next owner of partition 1 folds its records again
