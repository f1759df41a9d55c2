-- Availability of a system (and of `all`) is the mean of its targets' availabilities. The float
-- sum behind avg() depended on the order rows reached the aggregate, which differs between
-- ioc_kpi('availability', f, t, '{"system": "portal"}') and the by-system grouping read by the
-- report and the SLA dashboard: the two could differ in the last digit (found by `ioc drill`).
-- Summing in target order makes every reader get the same value to the last digit.
CREATE OR REPLACE FUNCTION ioc_kpi_probe_ratio(p_kpi text, p_from timestamptz, p_to timestamptz,
                                               p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH c AS (SELECT c.*, ioc_kpi_tech_labels(p_by, c.system, c.target_id) AS g,
                      CASE WHEN c.total > 0 THEN c.ok::float8 / c.total END AS a
                 FROM ioc_probe_counts(p_from, p_to, p_filter) c)
    SELECT g,
           CASE WHEN p_kpi = 'error_rate' THEN sum(total - ok)::float8 / nullif(sum(total), 0)
                WHEN p_by = 'target' THEN sum(ok)::float8 / nullif(sum(total), 0)
                ELSE avg(a ORDER BY target_id) END,
           CASE WHEN p_kpi = 'error_rate' THEN sum(total - ok)::float8
                WHEN p_by = 'target' THEN sum(ok)::float8 ELSE sum(a ORDER BY target_id) END,
           CASE WHEN p_kpi = 'error_rate' OR p_by = 'target' THEN sum(total)::float8
                ELSE count(a)::float8 END
      FROM c GROUP BY g ORDER BY g::text
$$;
