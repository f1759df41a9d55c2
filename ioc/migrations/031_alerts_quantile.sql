-- The histogram bucket value of a latency, as ioc_hist_value(ioc_hist_index(ms)) gives it, at a
-- fraction of the cost: floating-point log2 decides the bucket unless the value sits within
-- 1e-6 of a bucket edge (where the numeric ioc_hist_index decides), and the bucket values come
-- from a table computed once per query. Alert rules call it once per target and cycle.

CREATE OR REPLACE FUNCTION ioc_alert_hist_values() RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT array_agg(ioc_hist_value(i) ORDER BY i) FROM generate_series(-80, 400) AS i $$;

-- One expression (no FROM), so the planner inlines it.
CREATE OR REPLACE FUNCTION ioc_alert_hist_round(ms double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce((ioc_alert_hist_values())[81 + CASE
               WHEN abs(ln(greatest(ms, 0.001)) / ln(2::float8) * 8
                        - round(ln(greatest(ms, 0.001)) / ln(2::float8) * 8)) < 1e-6
               THEN ioc_hist_index(ms)::integer
               ELSE floor(ln(greatest(ms, 0.001)) / ln(2::float8) * 8)::integer END],
           ioc_hist_value(ioc_hist_index(ms)))
$$;
