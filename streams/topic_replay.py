"""Resetting the stream side for a replay of the raw topic: groups, offsets, table state.

A replay makes the worker read the raw topic again, from the start (or from the offsets of a
timestamp), onto an empty sessions table. What has to be reset, and nothing else:

* the worker's consumer group (``settings.worker_app_id``, Faust's group id) is given committed
  offsets on the raw topic: the log start offsets, or ``offsets_for_times`` of the timestamp;
* the Faust table state: the changelog topic ``<app id>-sessions-changelog`` is deleted and
  created again, empty, with the same partition count and the same topic configs (a compacted
  topic refuses DeleteRecords, hence not truncated), and the worker's local RocksDB partitions
  (``<worker_data_dir>/v*/tables/sessions-*.db``) are removed: a local store that outlived its
  changelog would be taken for restored state;
* the sink group (``settings.sink_group_id``) is given the end offsets of the session stream as
  they were before the replay (the "mark"), so the sink writes only rebuilt snapshots. A full
  replay also deletes the session stream's records before the mark (DeleteRecords): after a
  rule change an old snapshot and its rebuilt twin carry the same version, and a consumer
  keeping the highest version per batch could not tell them apart.

Everything is refused while either group has members (state other than Empty/Dead), and the
offset commits themselves are refused by the broker if a member joined meanwhile. The Postgres
side (which rows to delete) is :mod:`streams.replay_rows`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from sessionizer.errors import ConfigError, PermanentError, TransientError
from sessionizer.settings import Settings
from streams.faust_app import TABLE_NAME, changelog_topic_name

log = logging.getLogger(__name__)

IDLE_GROUP_STATES = frozenset({"Empty", "Dead", ""})
TOPIC_CONFIG_SOURCE = 1  # DescribeConfigs: set on the topic itself
ERROR_NONE = 0
ERROR_UNKNOWN_TOPIC = 3
ERROR_TOPIC_ALREADY_EXISTS = 36
RECREATE_TIMEOUT_S = 60.0

Progress = Callable[[str], None]


class WorkerRunningError(PermanentError):
    """A consumer group of the worker or of the sink has active members."""


@dataclass(frozen=True, slots=True)
class GroupState:
    group_id: str
    state: str
    members: int

    @property
    def active(self) -> bool:
        return self.state not in IDLE_GROUP_STATES or self.members > 0


@dataclass(frozen=True, slots=True)
class ChangelogInfo:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]
    records: int


@dataclass(slots=True)
class StreamPlan:
    """What a replay would reset on the stream side (Kafka and the local store)."""

    raw_topic: str
    from_ms: int | None
    groups: list[GroupState]
    log_start: dict[int, int]
    raw_end: dict[int, int]
    worker_committed: dict[int, int]
    target: dict[int, int]
    changelog: ChangelogInfo | None
    local_stores: list[Path]
    sessions_topic: str
    sessions_mark: dict[int, int]
    sessions_start: dict[int, int]
    truncate_sessions: bool
    session_ids: set[str] | None = field(default=None)

    @property
    def events_to_replay(self) -> int:
        return sum(max(0, self.raw_end[p] - self.target[p]) for p in self.target)

    @property
    def lost_to_retention(self) -> bool:
        """Some raw partition no longer starts at offset 0: events were deleted by retention."""
        return any(offset > 0 for offset in self.log_start.values())


def _admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="sessionizer-replay",
        request_timeout_ms=30_000,
    )


def _consumer(settings: Settings, group_id: str | None = None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="sessionizer-replay",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def describe_groups(admin: AIOKafkaAdminClient, group_ids: list[str]) -> list[GroupState]:
    """State and member count of each group (a group that never existed is ``Dead``)."""
    states: list[GroupState] = []
    # One group per request: with several, aiokafka 0.14 misreads every group after the first.
    responses = [r for g in group_ids for r in await admin.describe_consumer_groups([g])]
    for response in responses:
        for group in response.groups:
            error, group_id, state, members = group[0], group[1], group[2], group[5]
            if error not in (ERROR_NONE, 69):  # 69: group id not found (newer brokers)
                raise TransientError(f"could not describe consumer group {group_id}: error {error}")
            states.append(GroupState(group_id, state or "Dead", len(members)))
    return states


def refuse_if_running(groups: list[GroupState]) -> None:
    active = [g for g in groups if g.active]
    if active:
        names = ", ".join(f"{g.group_id} ({g.state}, {g.members} members)" for g in active)
        raise WorkerRunningError(
            f"refusing to replay: consumer group(s) {names} are active. Stop every "
            "`sessionizer worker` and `sessionizer sink` of this app id first (Ctrl-C or "
            "SIGTERM), then run replay again."
        )


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    metadata = await consumer._client.fetch_all_metadata()
    partitions = metadata.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(partitions or ())]


async def _changelog_info(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, name: str
) -> ChangelogInfo | None:
    if name not in set(await admin.list_topics()):
        return None
    tps = await _partitions(consumer, name)
    start = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    configs: dict[str, str] = {}
    for response in responses:
        for resource in response.resources:
            for entry in resource[4]:
                entry_name, value, _read_only, source = entry[0], entry[1], entry[2], entry[3]
                # v0 has is_default (a bool) where later versions have the config source
                explicit = source is False if isinstance(source, bool) else source == 1
                if explicit and value is not None:
                    configs[entry_name] = value
    records = sum(end[tp] - start[tp] for tp in tps)
    described = await admin.describe_topics([name])
    replicas = len(described[0]["partitions"][0]["replicas"]) if described else 1
    return ChangelogInfo(name, len(tps), max(1, replicas), configs, records)


def local_table_stores(settings: Settings) -> list[Path]:
    """The worker's local RocksDB partitions of the sessions table (Faust's tabledir layout)."""
    folder = settings.worker_data_dir
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"v*/tables/{TABLE_NAME}-*.db") if p.is_dir())


async def sessions_after(
    consumer: AIOKafkaConsumer,
    start: dict[TopicPartition, int],
    end: dict[TopicPartition, int],
    progress: Progress,
) -> set[str]:
    """Keys (session ids) of the raw records between ``start`` and ``end`` offsets."""
    found: set[str] = set()
    for tp in sorted(start, key=lambda t: t.partition):
        if start[tp] >= end[tp]:
            continue
        consumer.assign([tp])
        consumer.seek(tp, start[tp])
        position = start[tp]
        last = time.monotonic()
        while position < end[tp]:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
            for message in batch.get(tp, []):
                if message.offset < end[tp] and message.key is not None:
                    found.add(message.key.decode("utf-8", "replace"))
            position = await consumer.position(tp)
            if batch.get(tp):
                last = time.monotonic()
            elif time.monotonic() - last > 30:
                raise TransientError(f"no record from {tp.topic}[{tp.partition}] for 30 s")
        progress(f"scanned {tp.topic}[{tp.partition}] from offset {start[tp]} to {end[tp]}")
    return found


async def plan_stream_reset(
    settings: Settings, from_ms: int | None, progress: Progress
) -> StreamPlan:
    """Look, change nothing: the groups, offsets, changelog and local stores a replay resets."""
    admin = _admin(settings)
    consumer = _consumer(settings)
    try:
        await admin.start()
        await consumer.start()
        groups = await describe_groups(admin, [settings.worker_app_id, settings.sink_group_id])
        raw = await _partitions(consumer, settings.raw_topic)
        if not raw:
            raise ConfigError(f"raw topic {settings.raw_topic} does not exist: nothing to replay")
        log_start = await consumer.beginning_offsets(raw)
        raw_end = await consumer.end_offsets(raw)
        if from_ms is None:
            target = dict(log_start)
        else:
            found = await consumer.offsets_for_times({tp: from_ms for tp in raw})
            target = {tp: raw_end[tp] if found[tp] is None else found[tp].offset for tp in raw}
        committed = await admin.list_consumer_group_offsets(settings.worker_app_id)
        changelog = await _changelog_info(admin, consumer, changelog_topic_name(settings))
        sessions = await _partitions(consumer, settings.sessions_topic)
        mark = await consumer.end_offsets(sessions) if sessions else {}
        sessions_start = await consumer.beginning_offsets(sessions) if sessions else {}
        session_ids = None
        if from_ms is not None:
            session_ids = await sessions_after(consumer, target, raw_end, progress)
    except KafkaError as exc:
        raise TransientError(f"Kafka at {settings.kafka_bootstrap_servers}: {exc!r}") from exc
    finally:
        await consumer.stop()
        await admin.close()
    return StreamPlan(
        raw_topic=settings.raw_topic,
        from_ms=from_ms,
        groups=groups,
        log_start={tp.partition: o for tp, o in log_start.items()},
        raw_end={tp.partition: o for tp, o in raw_end.items()},
        worker_committed={
            tp.partition: meta.offset
            for tp, meta in committed.items()
            if tp.topic == settings.raw_topic and meta.offset >= 0
        },
        target={tp.partition: o for tp, o in target.items()},
        changelog=changelog,
        local_stores=local_table_stores(settings),
        sessions_topic=settings.sessions_topic,
        sessions_mark={tp.partition: o for tp, o in mark.items()},
        sessions_start={tp.partition: o for tp, o in sessions_start.items()},
        truncate_sessions=from_ms is None,
        session_ids=session_ids,
    )


async def _recreate_changelog(admin: AIOKafkaAdminClient, info: ChangelogInfo) -> None:
    response = await admin.delete_topics([info.name])
    for _topic, code, *_ in response.topic_error_codes:
        if code not in (ERROR_NONE, ERROR_UNKNOWN_TOPIC):
            raise TransientError(f"could not delete {info.name}: error {code}")
    deadline = time.monotonic() + RECREATE_TIMEOUT_S
    new_topic = NewTopic(
        info.name, info.partitions, info.replication_factor, topic_configs=info.configs
    )
    while True:
        if info.name not in set(await admin.list_topics()):
            created = await admin.create_topics([new_topic])
            code = created.topic_errors[0][1]
            if code == ERROR_NONE:
                return
            if code != ERROR_TOPIC_ALREADY_EXISTS:  # still being deleted: try again
                raise TransientError(f"could not create {info.name} again: error {code}")
        if time.monotonic() > deadline:
            raise TransientError(f"{info.name} was not deleted within {RECREATE_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.2)


async def commit_group_offsets(
    settings: Settings, group_id: str, topic: str, offsets: dict[int, int]
) -> None:
    """Commit ``offsets`` for ``group_id`` from outside the group (refused if it has members)."""
    if not offsets:
        return
    consumer = _consumer(settings, group_id)
    try:
        await consumer.start()
        tps = {TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in offsets.items()}
        consumer.assign(list(tps))
        await consumer.commit(tps)
    except KafkaError as exc:
        raise WorkerRunningError(
            f"could not commit offsets of group {group_id} on {topic} ({exc!r}): did a worker "
            "or sink start meanwhile? Stop it and run replay again."
        ) from exc
    finally:
        await consumer.stop()


async def apply_stream_reset(settings: Settings, plan: StreamPlan, progress: Progress) -> None:
    """Reset what :func:`plan_stream_reset` found; every step can safely be run again."""
    admin = _admin(settings)
    try:
        await admin.start()
        refuse_if_running(
            await describe_groups(admin, [settings.worker_app_id, settings.sink_group_id])
        )
        if plan.changelog is not None:
            await _recreate_changelog(admin, plan.changelog)
            progress(
                f"table state: {plan.changelog.name} deleted and created again, empty "
                f"({plan.changelog.partitions} partitions)"
            )
        if plan.truncate_sessions and any(plan.sessions_mark.values()):
            await admin.delete_records(
                {
                    TopicPartition(plan.sessions_topic, p): RecordsToDelete(o)
                    for p, o in plan.sessions_mark.items()
                    if o > plan.sessions_start.get(p, 0)
                }
            )
            progress(f"session stream: records before the mark deleted from {plan.sessions_topic}")
    except KafkaError as exc:
        raise TransientError(f"resetting Kafka state failed: {exc!r}") from exc
    finally:
        await admin.close()
    for store in plan.local_stores:
        shutil.rmtree(store, ignore_errors=True)
    if plan.local_stores:
        progress(f"table state: {len(plan.local_stores)} local RocksDB partition(s) removed")
    await commit_group_offsets(settings, settings.worker_app_id, plan.raw_topic, plan.target)
    progress(f"worker group {settings.worker_app_id}: offsets on {plan.raw_topic} set")
    await commit_group_offsets(
        settings, settings.sink_group_id, plan.sessions_topic, plan.sessions_mark
    )
    if plan.sessions_mark:
        progress(f"sink group {settings.sink_group_id}: offsets on {plan.sessions_topic} set")


def describe_plan(plan: StreamPlan) -> list[str]:
    """Human lines: what :func:`apply_stream_reset` would do."""
    lines = [
        "consumer groups: "
        + ", ".join(f"{g.group_id} {g.state or 'Dead'} ({g.members} members)" for g in plan.groups)
    ]
    parts = sorted(plan.target)
    lines.append(
        f"raw topic {plan.raw_topic}: {len(parts)} partitions, {plan.events_to_replay} records to "
        "replay; worker group offsets now -> after: "
        + " ".join(f"{p}:{plan.worker_committed.get(p, '-')}->{plan.target[p]}" for p in parts)
    )
    if plan.lost_to_retention:
        lines.append(
            "WARNING: the raw topic no longer starts at offset 0 in partitions "
            + ", ".join(str(p) for p, o in sorted(plan.log_start.items()) if o > 0)
            + ": events deleted by retention cannot be replayed"
        )
    if plan.changelog is None:
        lines.append("table state: no changelog topic yet (nothing to reset)")
    else:
        lines.append(
            f"table state: delete and re-create {plan.changelog.name} "
            f"({plan.changelog.partitions} partitions, {plan.changelog.records} records, "
            f"configs {plan.changelog.configs or '{}'})"
        )
    lines.append(
        f"local store: remove {len(plan.local_stores)} RocksDB partition folder(s) of the "
        f"sessions table" + (f" under {plan.local_stores[0].parent}" if plan.local_stores else "")
    )
    if plan.sessions_mark:
        mark = " ".join(f"{p}:{o}" for p, o in sorted(plan.sessions_mark.items()))
        action = (
            "delete the records before the mark, and set the sink group's offsets to it"
            if plan.truncate_sessions
            else "set the sink group's offsets to the mark (older records stay)"
        )
        lines.append(f"session stream {plan.sessions_topic}: mark (end now) {mark}: {action}")
    else:
        lines.append(f"session stream {plan.sessions_topic}: does not exist yet")
    return lines
