-- The read-only role Grafana connects as. Created NOLOGIN: nobody can log in with it until the
-- deployment sets a password from the environment (`ioc grafana db-role`, which sends only a
-- SCRAM verifier). Roles are cluster-wide, so creation tolerates a concurrent creator.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        CREATE ROLE ioc_grafana NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another database of this cluster created it at the same moment
END $$;

-- Read everything in the schema and run the KPI functions; write nothing.
GRANT USAGE ON SCHEMA public TO ioc_grafana;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ioc_grafana;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ioc_grafana;
-- Tables and functions that later migrations create (as the same owner) are covered too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ioc_grafana;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO ioc_grafana;

-- Credentials and the notification outbox are none of a dashboard's business.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_tokens', 'notifications', 'schema_migrations'] LOOP
        IF to_regclass(t) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON %I FROM ioc_grafana', t);
        END IF;
    END LOOP;
END $$;
