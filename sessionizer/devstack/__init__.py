"""The local stack: a Kafka 3.9.1 broker (from Maven jars) and a Debian Postgres server.

``LocalStack`` (in :mod:`sessionizer.devstack.local_stack`) is what ``sessionizer dev`` and the
test fixtures use; :mod:`kafka_stack` and :mod:`postgres_stack` run one service each.
"""
