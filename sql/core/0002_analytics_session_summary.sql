-- Per-session view: totals of the per-batch columns summed over batches, cumulative columns
-- taken from the session's latest batch (they carry across batches: summing would double count).

CREATE VIEW analytics_session_summary AS
WITH per_session AS (
  SELECT
    s.session_id,
    min(s.started_at) AS started_at,
    max(s.ended_at) AS ended_at,
    count(*) AS batch_count,
    min(s.batch_seq) AS first_batch_seq,
    max(s.batch_seq) AS last_batch_seq,
    bool_or(s.conversion_achieved) AS conversion_achieved,
    sum(s.llm_token_usage)::bigint AS llm_token_usage,
    sum(s.llm_cost_estimate) AS llm_cost_estimate
  FROM analytics_user_sessions s
  GROUP BY s.session_id
)
SELECT
  p.session_id,
  latest.user_id,
  latest.metadata ->> 'workspace_id' AS workspace_id,
  latest.metadata,
  p.started_at,
  p.ended_at,
  round(EXTRACT(EPOCH FROM (p.ended_at - p.started_at)) * 1000)::bigint AS session_duration_ms,
  p.batch_count,
  p.last_batch_seq,
  first.entry_point,
  latest.exit_point,
  p.conversion_achieved,
  latest.goal_events,
  latest.interaction_summary,
  latest.feature_interactions,
  p.llm_token_usage,
  p.llm_cost_estimate
FROM per_session p
JOIN analytics_user_sessions latest
  ON latest.session_id = p.session_id AND latest.batch_seq = p.last_batch_seq
JOIN analytics_user_sessions first
  ON first.session_id = p.session_id AND first.batch_seq = p.first_batch_seq;

COMMENT ON VIEW analytics_session_summary IS
  'One row per session, flattened for analysis: first start, last end, number of batches, '
  'conversion, exact LLM token and cost totals, and the session''s latest context (metadata, '
  'workspace_id, user_id, goals, interactions, features). Use this, not sums over '
  'analytics_user_sessions, for per-session numbers.';
COMMENT ON COLUMN analytics_session_summary.session_id IS 'Client session identifier.';
COMMENT ON COLUMN analytics_session_summary.user_id IS
  'User of the session as of its latest batch (null when anonymous).';
COMMENT ON COLUMN analytics_session_summary.workspace_id IS
  'Text value of metadata.workspace_id as of the latest batch (null when not set).';
COMMENT ON COLUMN analytics_session_summary.metadata IS
  'Application context of the session (JSON object) as of its latest batch.';
COMMENT ON COLUMN analytics_session_summary.started_at IS
  'Time (UTC) of the first event of the session''s earliest stored batch.';
COMMENT ON COLUMN analytics_session_summary.ended_at IS
  'Time (UTC) of the latest event of the session.';
COMMENT ON COLUMN analytics_session_summary.session_duration_ms IS
  'ended_at minus started_at, in milliseconds (includes idle gaps between batches).';
COMMENT ON COLUMN analytics_session_summary.batch_count IS
  'Number of stored batches of the session.';
COMMENT ON COLUMN analytics_session_summary.last_batch_seq IS
  'Highest batch_seq of the session (the batch the cumulative columns come from).';
COMMENT ON COLUMN analytics_session_summary.entry_point IS
  'First page of the session (entry_point of its earliest stored batch).';
COMMENT ON COLUMN analytics_session_summary.exit_point IS
  'Last page of the session (exit_point of its latest batch).';
COMMENT ON COLUMN analytics_session_summary.conversion_achieved IS
  'True when the session reached at least one goal.';
COMMENT ON COLUMN analytics_session_summary.goal_events IS
  'JSON object: goal name -> earliest time reached, for the whole session.';
COMMENT ON COLUMN analytics_session_summary.interaction_summary IS
  'JSON object: element label -> number of interactions, for the whole session.';
COMMENT ON COLUMN analytics_session_summary.feature_interactions IS
  'JSON object: feature name -> number of uses, for the whole session.';
COMMENT ON COLUMN analytics_session_summary.llm_token_usage IS
  'Total LLM tokens of the session (sum of the per-batch totals; exact).';
COMMENT ON COLUMN analytics_session_summary.llm_cost_estimate IS
  'Total estimated LLM cost of the session in US dollars (sum of the per-batch totals; exact).';
