-- Track A/B test performance. Corrected from the gist: averages whole-session durations
-- (analytics_session_summary) instead of batch durations, and counts sessions, not batches.
SELECT
  metadata->>'experiment_variant' AS variant,
  AVG(session_duration_ms) AS avg_session_duration,
  COUNT(*) FILTER (WHERE conversion_achieved) AS conversions
FROM analytics_session_summary
WHERE metadata ? 'experiment_variant'
GROUP BY metadata->>'experiment_variant';
