-- Core table: one row per (session_id, batch_seq), holding the latest snapshot of that batch.
-- Plain Postgres 13+. Runs with search_path set to the target schema by `sessionizer migrate`.

CREATE TABLE analytics_user_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid,
  session_id text NOT NULL,
  batch_id uuid NOT NULL DEFAULT gen_random_uuid(),
  batch_seq integer NOT NULL DEFAULT 0,

  started_at timestamptz DEFAULT now(),
  ended_at timestamptz,
  session_duration_ms bigint GENERATED ALWAYS AS (
    round(EXTRACT(EPOCH FROM (ended_at - started_at)) * 1000)::bigint
  ) STORED,

  path_sequence text[] NOT NULL DEFAULT '{}'::text[],
  path_timings bigint[] NOT NULL DEFAULT '{}'::bigint[],
  entry_point text,
  exit_point text,

  interaction_summary jsonb NOT NULL DEFAULT '{}'::jsonb,
  goal_events jsonb NOT NULL DEFAULT '{}'::jsonb,
  feature_interactions jsonb NOT NULL DEFAULT '{}'::jsonb,

  page_load_times jsonb NOT NULL DEFAULT '{}'::jsonb,
  error_events jsonb NOT NULL DEFAULT '[]'::jsonb,

  llm_interactions jsonb NOT NULL DEFAULT '[]'::jsonb,
  llm_token_usage bigint NOT NULL DEFAULT 0,
  llm_cost_estimate numeric(14,4) NOT NULL DEFAULT 0,

  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,

  session_type text,
  conversion_achieved boolean NOT NULL DEFAULT false,
  pages_visited integer GENERATED ALWAYS AS (cardinality(path_sequence)) STORED,
  bounce_session boolean GENERATED ALWAYS AS (cardinality(path_sequence) = 1) STORED,

  version bigint NOT NULL,
  closed boolean NOT NULL,

  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),

  CONSTRAINT ux_analytics_batch_id UNIQUE (batch_id),
  CONSTRAINT check_path_sequence_size CHECK (cardinality(path_sequence) <= 100),
  CONSTRAINT check_path_timings_size CHECK (cardinality(path_timings) <= 100),
  CONSTRAINT check_error_events_size CHECK (
    jsonb_typeof(error_events) = 'array' AND jsonb_array_length(error_events) <= 20),
  CONSTRAINT check_llm_interactions_size CHECK (
    jsonb_typeof(llm_interactions) = 'array' AND jsonb_array_length(llm_interactions) <= 100),
  CONSTRAINT check_maps_are_objects CHECK (
    jsonb_typeof(interaction_summary) = 'object' AND jsonb_typeof(goal_events) = 'object'
    AND jsonb_typeof(feature_interactions) = 'object' AND jsonb_typeof(page_load_times) = 'object'
    AND jsonb_typeof(metadata) = 'object'),
  CONSTRAINT check_counters_not_negative CHECK (
    batch_seq >= 0 AND version >= 0 AND llm_token_usage >= 0 AND llm_cost_estimate >= 0),
  CONSTRAINT check_session_id_length CHECK (char_length(session_id) BETWEEN 1 AND 128)
);

CREATE INDEX idx_analytics_user_time ON analytics_user_sessions (user_id, started_at);
CREATE INDEX idx_analytics_session_time ON analytics_user_sessions (session_id, started_at);
CREATE UNIQUE INDEX ux_analytics_session_batch ON analytics_user_sessions (session_id, batch_seq);

COMMENT ON TABLE analytics_user_sessions IS
  'One row per batch of a user session: the latest snapshot (highest version) of batch number '
  'batch_seq of session session_id, computed server-side from raw behavioural events. A session '
  'has one or more batches (a new batch starts after 50 pages or after 30 minutes of silence). '
  'Per-batch columns describe only that batch; the columns marked cumulative describe the whole '
  'session up to that batch, so for session totals of those take the row with the highest '
  'batch_seq, never a sum over batches (see view analytics_session_summary).';

COMMENT ON COLUMN analytics_user_sessions.id IS
  'Surrogate row id (random UUID). Carries no meaning; use (session_id, batch_seq) or batch_id.';
COMMENT ON COLUMN analytics_user_sessions.user_id IS
  'UUID of the signed-in user the session belongs to (the last one seen in the session), or null '
  'for anonymous sessions. Cumulative: carried from batch to batch.';
COMMENT ON COLUMN analytics_user_sessions.session_id IS
  'Client session identifier (1 to 128 characters). Together with batch_seq it identifies the row.';
COMMENT ON COLUMN analytics_user_sessions.batch_id IS
  'Deterministic UUIDv5 of "session_id:batch_seq"; unique per row.';
COMMENT ON COLUMN analytics_user_sessions.batch_seq IS
  'Number of this batch within its session, starting at 0 and increasing by 1 per new batch.';
COMMENT ON COLUMN analytics_user_sessions.started_at IS
  'Time (UTC, millisecond precision) of the first event of this batch. Per batch.';
COMMENT ON COLUMN analytics_user_sessions.ended_at IS
  'Time (UTC, millisecond precision) of the latest event of this batch. Per batch.';
COMMENT ON COLUMN analytics_user_sessions.session_duration_ms IS
  'Length of this batch in milliseconds: ended_at minus started_at. Generated; per batch.';
COMMENT ON COLUMN analytics_user_sessions.path_sequence IS
  'Pages (URL paths) visited in this batch, in order, without immediate repeats; at most 50. '
  'A batch that follows a 50-page batch starts with the last page of the previous one. Per batch.';
COMMENT ON COLUMN analytics_user_sessions.path_timings IS
  'For each entry of path_sequence, milliseconds from started_at to the arrival on that page. '
  'Per batch.';
COMMENT ON COLUMN analytics_user_sessions.entry_point IS
  'First page of path_sequence (null when no page). Per batch.';
COMMENT ON COLUMN analytics_user_sessions.exit_point IS
  'Last page of path_sequence (null when no page). Per batch.';
COMMENT ON COLUMN analytics_user_sessions.interaction_summary IS
  'JSON object: element label -> number of interactions (clicks etc.) with it. Cumulative over the '
  'whole session up to this batch.';
COMMENT ON COLUMN analytics_user_sessions.goal_events IS
  'JSON object: goal name -> earliest time (RFC 3339 UTC text) the goal was reached. Cumulative '
  'over the whole session up to this batch; non-empty means the session converted.';
COMMENT ON COLUMN analytics_user_sessions.feature_interactions IS
  'JSON object: feature name -> number of times the feature was used. Cumulative over the whole '
  'session up to this batch. The number of keys is the number of distinct features used.';
COMMENT ON COLUMN analytics_user_sessions.page_load_times IS
  'JSON object: page or operation label -> latest load time in milliseconds seen in this batch. '
  'Per batch.';
COMMENT ON COLUMN analytics_user_sessions.error_events IS
  'JSON array of the last 20 errors of this batch: objects with type, page, time (ms since '
  'started_at) and optional message. A capped detail list; per batch.';
COMMENT ON COLUMN analytics_user_sessions.llm_interactions IS
  'JSON array of the last 100 LLM calls of this batch: objects with model, tokens, cost (USD), '
  'timestamp and optional prompt_tokens, completion_tokens, response_ms, stopped, chat_id, '
  'message_id, finish_reason. A capped detail list: use llm_token_usage and llm_cost_estimate for '
  'totals. Per batch.';
COMMENT ON COLUMN analytics_user_sessions.llm_token_usage IS
  'Total LLM tokens used in this batch (exact, counts every call, not only the listed ones). '
  'Per batch: sum over the batches of a session for the session total.';
COMMENT ON COLUMN analytics_user_sessions.llm_cost_estimate IS
  'Total estimated LLM cost of this batch in US dollars, 4 decimal places (exact sum of every '
  'call). Per batch: sum over the batches of a session for the session total.';
COMMENT ON COLUMN analytics_user_sessions.metadata IS
  'JSON object of application context (for example workspace_id, plan, workspace_size, '
  'experiment_variant), merged key by key from context events, later values win. Cumulative over '
  'the whole session up to this batch. Key _unlinked_user_id holds a user id that had no user '
  'row (Supabase profile).';
COMMENT ON COLUMN analytics_user_sessions.session_type IS
  'Classification of the batch: conversion (a goal was reached in the session), bounce (one page '
  'and fewer than 2 interactions), exploration (more than 5 pages) or standard.';
COMMENT ON COLUMN analytics_user_sessions.conversion_achieved IS
  'True when the session reached at least one goal up to this batch (goal_events is not empty). '
  'Cumulative.';
COMMENT ON COLUMN analytics_user_sessions.pages_visited IS
  'Number of entries in path_sequence (0 when none). Generated; per batch.';
COMMENT ON COLUMN analytics_user_sessions.bounce_session IS
  'True when path_sequence holds exactly one page. Generated; per batch.';
COMMENT ON COLUMN analytics_user_sessions.version IS
  'Number of events applied to this batch, plus 1 once the batch is closed. Only ever grows: '
  'a snapshot with a lower version never replaces a stored row.';
COMMENT ON COLUMN analytics_user_sessions.closed IS
  'True when the batch is final (a newer batch of the session was started); it never changes again.';
COMMENT ON COLUMN analytics_user_sessions.created_at IS
  'When the row was first written to this table (database time, UTC).';
COMMENT ON COLUMN analytics_user_sessions.updated_at IS
  'When the row was last replaced by a newer snapshot (database time, UTC).';
