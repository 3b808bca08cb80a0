-- Compare conversion rates by plan. Corrected from the gist: it counted batch rows of
-- analytics_user_sessions as sessions; here one row of analytics_session_summary is one session.
SELECT
  metadata->>'plan' AS plan,
  COUNT(*) AS total_sessions,
  COUNT(*) FILTER (WHERE conversion_achieved) AS conversions,
  (COUNT(*) FILTER (WHERE conversion_achieved)::float / COUNT(*)) * 100 AS conversion_rate
FROM analytics_session_summary
GROUP BY metadata->>'plan';
