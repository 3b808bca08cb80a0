"""ensure_topics against the real broker: create what is missing, refuse a wrong count."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from ingest.kafka_topics import default_topics, ensure_topics
from sessionizer.errors import ConfigError, TransientError
from sessionizer.settings import Settings
from tests.integration.conftest import MakeTopic


async def partition_count(admin: AIOKafkaAdminClient, topic: str) -> int:
    described = await admin.describe_topics([topic])
    return len(described[0]["partitions"])


async def test_creates_missing_topics_with_the_configured_counts(
    test_settings: Settings, kafka_admin: AIOKafkaAdminClient
) -> None:
    settings = test_settings.model_copy(update={"topic_partitions": 4})
    topics = default_topics(settings)
    topics[settings.dlq_topic] = 2

    counts = await ensure_topics(settings, topics)

    assert counts == {settings.raw_topic: 4, settings.sessions_topic: 4, settings.dlq_topic: 2}
    for name, expected in counts.items():
        assert await partition_count(kafka_admin, name) == expected
    # a second call finds them and changes nothing
    assert await ensure_topics(settings, topics) == counts


async def test_an_existing_topic_with_another_count_is_refused(
    test_settings: Settings, make_topic: MakeTopic, kafka_admin: AIOKafkaAdminClient
) -> None:
    await make_topic(test_settings.raw_topic, partitions=3)
    settings = test_settings.model_copy(update={"topic_partitions": 6})

    with pytest.raises(ConfigError) as caught:
        await ensure_topics(settings, {settings.raw_topic: None, settings.dlq_topic: None})

    assert settings.raw_topic in str(caught.value)
    assert "3 partitions, 6 configured" in str(caught.value)
    assert await partition_count(kafka_admin, settings.raw_topic) == 3
    # nothing is created when one topic is wrong
    assert settings.dlq_topic not in await kafka_admin.list_topics()
    # the same count is accepted as it is
    assert await ensure_topics(settings, {settings.raw_topic: 3}) == {settings.raw_topic: 3}


async def test_unreachable_kafka_is_a_transient_error(test_settings: Settings) -> None:
    nowhere = test_settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:9"})
    with pytest.raises(TransientError) as caught:
        await ensure_topics(nowhere, {"x": None}, timeout_s=3)
    assert "127.0.0.1:9" in str(caught.value)
