-- Find all sessions of a specific workspace (the gist's query; runs on the summary view,
-- which now has workspace_id).
SELECT * FROM analytics_session_summary
WHERE workspace_id = 'workspace_123';
