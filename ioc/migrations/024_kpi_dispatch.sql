-- KPI dispatch with per-call plans (see the comment below).

-- Dispatch to the family function. EXECUTE plans each call with the actual window and filter:
-- a static RETURN QUERY would inline the SQL function with parameters and run a generic plan,
-- which on large rollups is orders of magnitude slower (no chunk pruning, nested loops).
CREATE OR REPLACE FUNCTION ioc_kpi_rows(p_kpi text, p_from timestamptz, p_to timestamptz,
                                        p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE plpgsql STABLE AS $$
BEGIN
    CASE
        WHEN p_kpi IN ('availability', 'error_rate') THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_probe_ratio($1, $2, $3, $4, $5)'
                USING p_kpi, p_from, p_to, p_filter, p_by;
        WHEN p_kpi IN ('latency.p50', 'latency.p95', 'latency.p99') THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_latency($1, $2, $3, $4, $5)'
                USING substr(p_kpi, 10)::float8 / 100, p_from, p_to, p_filter, p_by;
        WHEN p_kpi = 'slo.error_budget' THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_error_budget($1, $2, $3)'
                USING p_from, p_to, p_filter;
        WHEN p_kpi = 'slo.objective' THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_objectives($1)'
                USING p_filter;
        WHEN p_kpi = 'throughput' THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_throughput($1, $2, $3, $4)'
                USING p_from, p_to, p_filter, p_by;
        WHEN p_kpi IN ('766.2.1', '766.2.2', '766.5.4', 'dossiers.timeliness') THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_timeliness($1, $2, $3, $4, $5)'
                USING p_kpi, p_from, p_to, p_filter, p_by;
        WHEN p_kpi IN ('766.1.4', '766.3.3', '766.3.6', '766.4.1', '766.4.2',
                       'dossiers.received') THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_dossier_ratio($1, $2, $3, $4, $5)'
                USING p_kpi, p_from, p_to, p_filter, p_by;
        WHEN p_kpi = 'score.decision766' THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_766_scores($1, $2, $3)'
                USING p_from, p_to, p_filter;
        WHEN p_kpi LIKE 'payments.%' THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_payments($1, $2, $3, $4, $5)'
                USING p_kpi, p_from, p_to, p_filter, p_by;
        WHEN p_kpi LIKE 'recon.%' THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_recon($1, $2, $3, $4, $5)'
                USING p_kpi, p_from, p_to, p_filter, p_by;
        WHEN p_kpi LIKE 'documents.%' THEN
            RETURN QUERY EXECUTE 'SELECT * FROM ioc_kpi_documents($1, $2, $3, $4, $5)'
                USING p_kpi, p_from, p_to, p_filter, p_by;
        ELSE
            RAISE EXCEPTION 'KPI % is catalogued but not computed', p_kpi;
    END CASE;
END $$;

