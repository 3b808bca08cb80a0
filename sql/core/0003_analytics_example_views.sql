-- The gist's example analyses, corrected, as views. Each counts sessions (one row of
-- analytics_session_summary), not batches: the gist counted batch rows as sessions and used
-- batch durations as session durations.

-- A number stored in metadata as a JSON number or as a numeric string, else null
-- (so that a stray "ten" in one session does not make the whole query fail).
CREATE FUNCTION analytics_metadata_number(metadata jsonb, key text)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT CASE jsonb_typeof(metadata -> key)
    WHEN 'number' THEN (metadata ->> key)::numeric
    WHEN 'string' THEN CASE WHEN btrim(metadata ->> key) ~ '^[+-]?[0-9]{1,15}(\.[0-9]{1,15})?$'
                            THEN btrim(metadata ->> key)::numeric END
  END
$fn$;
COMMENT ON FUNCTION analytics_metadata_number(jsonb, text) IS
  'Numeric value of metadata->key when it is a JSON number or a numeric string, else null.';

CREATE VIEW analytics_conversion_by_plan AS
SELECT
  s.metadata ->> 'plan' AS plan,
  count(*) AS total_sessions,
  count(*) FILTER (WHERE s.conversion_achieved) AS conversions,
  round(100.0 * count(*) FILTER (WHERE s.conversion_achieved) / count(*), 2) AS conversion_rate
FROM analytics_session_summary s
GROUP BY s.metadata ->> 'plan';

COMMENT ON VIEW analytics_conversion_by_plan IS
  'Conversion rate of sessions per subscription plan (metadata.plan; null plan = not set).';
COMMENT ON COLUMN analytics_conversion_by_plan.plan IS
  'Text value of metadata.plan of the session (null when not set).';
COMMENT ON COLUMN analytics_conversion_by_plan.total_sessions IS 'Number of sessions on this plan.';
COMMENT ON COLUMN analytics_conversion_by_plan.conversions IS
  'Number of those sessions that reached at least one goal.';
COMMENT ON COLUMN analytics_conversion_by_plan.conversion_rate IS
  'conversions / total_sessions in percent (0 to 100), rounded to 2 decimals.';

CREATE VIEW analytics_feature_adoption_by_team_size AS
SELECT
  CASE
    WHEN analytics_metadata_number(s.metadata, 'workspace_size') <= 5 THEN 'small'
    WHEN analytics_metadata_number(s.metadata, 'workspace_size') <= 20 THEN 'medium'
    ELSE 'large'
  END AS team_size,
  count(*) AS sessions,
  avg((SELECT count(*) FROM jsonb_object_keys(s.feature_interactions))) AS avg_features_used
FROM analytics_session_summary s
WHERE analytics_metadata_number(s.metadata, 'workspace_size') IS NOT NULL
GROUP BY 1;

COMMENT ON VIEW analytics_feature_adoption_by_team_size IS
  'Average number of distinct features used per session, by team size (metadata.workspace_size: '
  'small up to 5, medium up to 20, large above). Sessions without a numeric workspace_size are left out.';
COMMENT ON COLUMN analytics_feature_adoption_by_team_size.team_size IS
  'small (workspace_size <= 5), medium (<= 20) or large (> 20).';
COMMENT ON COLUMN analytics_feature_adoption_by_team_size.sessions IS
  'Number of sessions in this team-size group.';
COMMENT ON COLUMN analytics_feature_adoption_by_team_size.avg_features_used IS
  'Average over those sessions of the number of distinct features used (keys of feature_interactions).';

CREATE VIEW analytics_ab_variant_comparison AS
SELECT
  s.metadata ->> 'experiment_variant' AS variant,
  count(*) AS sessions,
  avg(s.session_duration_ms) AS avg_session_duration_ms,
  count(*) FILTER (WHERE s.conversion_achieved) AS conversions,
  round(100.0 * count(*) FILTER (WHERE s.conversion_achieved) / count(*), 2) AS conversion_rate
FROM analytics_session_summary s
WHERE s.metadata ? 'experiment_variant'
GROUP BY s.metadata ->> 'experiment_variant';

COMMENT ON VIEW analytics_ab_variant_comparison IS
  'A/B test comparison: sessions, average session duration and conversions per experiment '
  'variant (metadata.experiment_variant; sessions without the key are left out).';
COMMENT ON COLUMN analytics_ab_variant_comparison.variant IS
  'Text value of metadata.experiment_variant (null when the key is present with a null value).';
COMMENT ON COLUMN analytics_ab_variant_comparison.sessions IS 'Number of sessions in the variant.';
COMMENT ON COLUMN analytics_ab_variant_comparison.avg_session_duration_ms IS
  'Average session duration in milliseconds (first event to last event of the session).';
COMMENT ON COLUMN analytics_ab_variant_comparison.conversions IS
  'Number of sessions of the variant that reached at least one goal.';
COMMENT ON COLUMN analytics_ab_variant_comparison.conversion_rate IS
  'conversions / sessions in percent (0 to 100), rounded to 2 decimals.';
