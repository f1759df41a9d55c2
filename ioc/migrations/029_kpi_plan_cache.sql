-- PL/pgSQL caches the plan of every statement for the session, and after five calls PostgreSQL
-- may switch to a generic plan that no longer sees the window bounds: TimescaleDB then cannot
-- exclude chunks and a 50 ms KPI read becomes seconds on a long-lived (pooled) connection.
-- A SET clause on the entry point applies to everything it calls.
ALTER FUNCTION ioc_kpi(text, timestamptz, timestamptz, jsonb)
    SET plan_cache_mode = force_custom_plan;
