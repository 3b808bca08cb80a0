-- Analyze feature adoption by team size. Corrected from the gist:
-- jsonb_array_length() fails on feature_interactions (a JSON object): count its keys instead;
-- a workspace_size that is not a number no longer makes the whole query fail;
-- one row per session (analytics_session_summary), not per batch.
SELECT
  CASE
    WHEN analytics_metadata_number(metadata, 'workspace_size') <= 5 THEN 'small'
    WHEN analytics_metadata_number(metadata, 'workspace_size') <= 20 THEN 'medium'
    ELSE 'large'
  END AS team_size,
  AVG((SELECT COUNT(*) FROM jsonb_object_keys(feature_interactions))) AS avg_features_used
FROM analytics_session_summary
WHERE analytics_metadata_number(metadata, 'workspace_size') IS NOT NULL
GROUP BY 1;
