-- Supabase profile: link rows to auth.users, keep rows whose user is unknown, row-level security.
-- Applied after the core profile, with search_path set to the target schema.

-- A user id without a row in auth.users is moved into metadata._unlinked_user_id and the row is
-- written with user_id null, so that no row is ever lost to the foreign key.
CREATE FUNCTION analytics_unlink_unknown_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF NEW.user_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = NEW.user_id) THEN
    NEW.metadata := coalesce(NEW.metadata, '{}'::jsonb)
                    || jsonb_build_object('_unlinked_user_id', NEW.user_id::text);
    NEW.user_id := NULL;
  END IF;
  RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION analytics_unlink_unknown_user() IS
  'Trigger function: a row whose user_id has no auth.users row is stored with user_id null and the '
  'id kept in metadata._unlinked_user_id.';

-- Rows written before this profile was applied get the same treatment.
UPDATE analytics_user_sessions s
SET metadata = s.metadata || jsonb_build_object('_unlinked_user_id', s.user_id::text),
    user_id = NULL
WHERE s.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = s.user_id);

CREATE TRIGGER analytics_unlink_unknown_user
  BEFORE INSERT OR UPDATE ON analytics_user_sessions
  FOR EACH ROW EXECUTE FUNCTION analytics_unlink_unknown_user();

ALTER TABLE analytics_user_sessions
  ADD CONSTRAINT fk_analytics_user_sessions_user
  FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE SET NULL;

-- Row-level security: a signed-in user reads their own rows; a super admin reads all.
ALTER TABLE analytics_user_sessions ENABLE ROW LEVEL SECURITY;
-- The bookkeeping table gets no policy: only its owner (the migrator) reads it, never the API.
ALTER TABLE sessionizer_migrations ENABLE ROW LEVEL SECURITY;

DO $do$
BEGIN
  IF to_regprocedure('is_super_admin()') IS NULL THEN
    CREATE FUNCTION is_super_admin() RETURNS boolean LANGUAGE sql STABLE AS 'SELECT false';
    COMMENT ON FUNCTION is_super_admin() IS
      'Placeholder created by sessionizer because the database had none: nobody is a super '
      'admin. Replace it with your own check.';
  END IF;
END
$do$;

CREATE POLICY "Read analytics_user_sessions"
  ON analytics_user_sessions
  FOR SELECT
  TO authenticated
  USING (user_id = auth.uid() OR is_super_admin());

DO $do$
DECLARE
  schema_name text := current_schema();
  view_name text;
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO authenticated', schema_name);
  EXECUTE format('GRANT SELECT ON %I.analytics_user_sessions TO authenticated', schema_name);
  FOREACH view_name IN ARRAY ARRAY['analytics_session_summary', 'analytics_conversion_by_plan',
      'analytics_feature_adoption_by_team_size', 'analytics_ab_variant_comparison'] LOOP
    IF current_setting('server_version_num')::int >= 150000 THEN
      -- The view reads the table with the rights of the querying user, so the policy applies.
      EXECUTE format('ALTER VIEW %I.%I SET (security_invoker = true)', schema_name, view_name);
      EXECUTE format('GRANT SELECT ON %I.%I TO authenticated', schema_name, view_name);
    ELSE
      -- Before Postgres 15 a view reads as its owner and would bypass row-level security.
      EXECUTE format('REVOKE ALL ON %I.%I FROM PUBLIC, authenticated', schema_name, view_name);
      IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        EXECUTE format('REVOKE ALL ON %I.%I FROM anon', schema_name, view_name);
      END IF;
    END IF;
  END LOOP;
END
$do$;
