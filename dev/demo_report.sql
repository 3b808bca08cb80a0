-- The report `make demo` prints (dev/demo_report.py runs each statement, in order, with
-- search_path set to the demo schema). Every statement is preceded by a `-- title:` line.
-- Per-session numbers come from analytics_session_summary (cumulative columns from a
-- session's latest batch); per-batch totals (LLM tokens and cost) add up over batches.

-- title: Sessions
SELECT
  count(*) AS sessions,
  sum(batch_count) AS batches,
  count(*) FILTER (WHERE conversion_achieved) AS conversions,
  round(100.0 * count(*) FILTER (WHERE conversion_achieved) / nullif(count(*), 0), 1)
    AS conversion_pct,
  round(avg(session_duration_ms) / 1000.0, 1) AS avg_duration_s,
  sum(llm_token_usage) AS llm_tokens,
  sum(llm_cost_estimate) AS llm_cost_usd
FROM analytics_session_summary;

-- title: Batches by session type
SELECT
  session_type,
  count(*) AS batches,
  round(avg(pages_visited), 1) AS avg_pages,
  count(*) FILTER (WHERE bounce_session) AS bounces
FROM analytics_user_sessions
GROUP BY session_type
ORDER BY batches DESC;

-- title: Conversion by plan (view analytics_conversion_by_plan)
SELECT coalesce(plan, '(not set)') AS plan, total_sessions, conversions, conversion_rate
FROM analytics_conversion_by_plan
ORDER BY total_sessions DESC;

-- title: Top entry -> exit paths
SELECT
  coalesce(entry_point, '(none)') AS entry_point,
  coalesce(exit_point, '(none)') AS exit_point,
  count(*) AS sessions,
  count(*) FILTER (WHERE conversion_achieved) AS conversions
FROM analytics_session_summary
GROUP BY entry_point, exit_point
ORDER BY sessions DESC, entry_point, exit_point
LIMIT 8;

-- title: Most visited pages
SELECT page, count(*) AS visits
FROM analytics_user_sessions, unnest(path_sequence) AS page
GROUP BY page
ORDER BY visits DESC, page
LIMIT 8;

-- title: LLM tokens and cost by model
SELECT
  i ->> 'model' AS model,
  count(*) AS calls,
  sum((i ->> 'tokens')::bigint) AS tokens,
  round(sum((i ->> 'cost')::numeric), 4) AS cost_usd
FROM analytics_user_sessions, jsonb_array_elements(llm_interactions) AS i
GROUP BY i ->> 'model'
ORDER BY tokens DESC;

-- title: LLM detail coverage (per-model figures are exact when detail = total)
SELECT
  sum(llm_token_usage) AS total_tokens,
  (SELECT coalesce(sum((i ->> 'tokens')::bigint), 0)
     FROM analytics_user_sessions, jsonb_array_elements(llm_interactions) AS i) AS detail_tokens,
  sum(llm_cost_estimate) AS total_cost_usd,
  count(*) FILTER (WHERE jsonb_array_length(llm_interactions) >= 100) AS batches_at_detail_cap
FROM analytics_user_sessions;
