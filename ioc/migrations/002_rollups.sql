-- Rollup maintenance, latency quantiles from histograms, retention.

-- Recompute the 1-minute and 1-hour probe rollups for the minutes in [p_from, p_to).
CREATE OR REPLACE FUNCTION ioc_rollup_probes(p_from timestamptz, p_to timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    h_from timestamptz := time_bucket('1 hour', p_from);
    h_to   timestamptz := time_bucket('1 hour', p_to - interval '1 microsecond') + interval '1 hour';
BEGIN
    DELETE FROM probe_rollup_1m WHERE bucket >= p_from AND bucket < p_to;
    INSERT INTO probe_rollup_1m
    SELECT b.bucket, b.target_id, b.total, b.ok, b.latency_n, b.latency_sum, b.latency_min,
           b.latency_max, coalesce(h.idx, '{}'), coalesce(h.cnt, '{}')
      FROM (SELECT time_bucket('1 minute', time) AS bucket, target_id,
                   count(*)::int AS total, count(*) FILTER (WHERE ok)::int AS ok,
                   count(duration_ms)::int AS latency_n,
                   coalesce(sum(duration_ms), 0) AS latency_sum,
                   min(duration_ms) AS latency_min, max(duration_ms) AS latency_max
              FROM probe_results WHERE time >= p_from AND time < p_to
             GROUP BY 1, 2) b
      LEFT JOIN (SELECT bucket, target_id, array_agg(idx ORDER BY idx) AS idx,
                        array_agg(n ORDER BY idx) AS cnt
                   FROM (SELECT time_bucket('1 minute', time) AS bucket, target_id,
                                ioc_hist_index(duration_ms) AS idx, count(*)::int AS n
                           FROM probe_results
                          WHERE time >= p_from AND time < p_to AND duration_ms IS NOT NULL
                          GROUP BY 1, 2, 3) x
                  GROUP BY 1, 2) h USING (bucket, target_id);

    DELETE FROM probe_rollup_1h WHERE bucket >= h_from AND bucket < h_to;
    INSERT INTO probe_rollup_1h
    SELECT b.bucket, b.target_id, b.total, b.ok, b.latency_n, b.latency_sum, b.latency_min,
           b.latency_max, coalesce(h.idx, '{}'), coalesce(h.cnt, '{}')
      FROM (SELECT time_bucket('1 hour', bucket) AS bucket, target_id,
                   sum(total)::int AS total, sum(ok)::int AS ok, sum(latency_n)::int AS latency_n,
                   sum(latency_sum) AS latency_sum, min(latency_min) AS latency_min,
                   max(latency_max) AS latency_max
              FROM probe_rollup_1m WHERE bucket >= h_from AND bucket < h_to
             GROUP BY 1, 2) b
      LEFT JOIN (SELECT bucket, target_id, array_agg(idx ORDER BY idx) AS idx,
                        array_agg(n ORDER BY idx) AS cnt
                   FROM (SELECT time_bucket('1 hour', r.bucket) AS bucket, r.target_id,
                                u.idx, sum(u.n)::int AS n
                           FROM probe_rollup_1m r, unnest(r.hist_idx, r.hist_cnt) AS u(idx, n)
                          WHERE r.bucket >= h_from AND r.bucket < h_to
                          GROUP BY 1, 2, 3) x
                  GROUP BY 1, 2) h USING (bucket, target_id);
END $$;

-- Recompute the 1-minute and 1-hour sample rollups for the minutes in [p_from, p_to).
CREATE OR REPLACE FUNCTION ioc_rollup_samples(p_from timestamptz, p_to timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    h_from timestamptz := time_bucket('1 hour', p_from);
    h_to   timestamptz := time_bucket('1 hour', p_to - interval '1 microsecond') + interval '1 hour';
BEGIN
    DELETE FROM sample_rollup_1m WHERE bucket >= p_from AND bucket < p_to;
    INSERT INTO sample_rollup_1m
    SELECT time_bucket('1 minute', time), series_id, count(*)::int, sum(value), min(value),
           max(value), (array_agg(value ORDER BY time DESC))[1]
      FROM samples WHERE time >= p_from AND time < p_to
     GROUP BY 1, 2;

    DELETE FROM sample_rollup_1h WHERE bucket >= h_from AND bucket < h_to;
    INSERT INTO sample_rollup_1h
    SELECT time_bucket('1 hour', bucket), series_id, sum(count)::int, sum(sum), min(min),
           max(max), (array_agg(last ORDER BY bucket DESC))[1]
      FROM sample_rollup_1m WHERE bucket >= h_from AND bucket < h_to
     GROUP BY 1, 2;
END $$;

-- Consume the dirty minutes: each contiguous run of minutes is recomputed in one call.
-- Safe to call from several processes: one at a time holds the lock, the others return.
CREATE OR REPLACE FUNCTION ioc_rollup_run(p_limit integer DEFAULT 100000)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r record;
    done integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('ioc_rollup_run')) THEN
        RETURN 0;
    END IF;
    FOR r IN
        WITH taken AS (
            DELETE FROM rollup_dirty
             WHERE (source, minute) IN (SELECT source, minute FROM rollup_dirty
                                         ORDER BY minute LIMIT p_limit)
            RETURNING source, minute),
        runs AS (
            SELECT source, minute,
                   minute - (row_number() OVER (PARTITION BY source ORDER BY minute))
                            * interval '1 minute' AS grp
              FROM taken)
        SELECT source, min(minute) AS first, max(minute) + interval '1 minute' AS last,
               count(*) AS n
          FROM runs GROUP BY source, grp ORDER BY first
    LOOP
        IF r.source = 'probe' THEN
            PERFORM ioc_rollup_probes(r.first, r.last);
        ELSE
            PERFORM ioc_rollup_samples(r.first, r.last);
        END IF;
        done := done + r.n;
    END LOOP;
    RETURN done;
END $$;

-- The merged latency histogram of some targets over [p_from, p_to): whole hours come from the
-- hourly rollup, the partial hours at either edge from the minute rollup. p_from and p_to are
-- taken at minute resolution.
CREATE OR REPLACE FUNCTION ioc_probe_hist(p_targets text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (idx smallint, n bigint) LANGUAGE sql STABLE AS $$
    WITH bounds AS (
        SELECT time_bucket('1 minute', p_from) AS f,
               time_bucket('1 minute', p_to) AS t,
               time_bucket('1 hour', p_from + interval '1 hour' - interval '1 microsecond') AS hf,
               time_bucket('1 hour', p_to) AS ht),
    parts AS (
        SELECT u.idx, u.n FROM probe_rollup_1h r, bounds b,
               unnest(r.hist_idx, r.hist_cnt) AS u(idx, n)
         WHERE b.hf < b.ht AND r.bucket >= b.hf AND r.bucket < b.ht
           AND r.target_id = ANY (p_targets)
        UNION ALL
        SELECT u.idx, u.n FROM probe_rollup_1m r, bounds b,
               unnest(r.hist_idx, r.hist_cnt) AS u(idx, n)
         WHERE r.bucket >= b.f AND r.bucket < b.t AND r.target_id = ANY (p_targets)
           AND (b.hf >= b.ht OR r.bucket < b.hf OR r.bucket >= b.ht))
    SELECT idx, sum(n)::bigint FROM parts GROUP BY idx ORDER BY idx
$$;

-- The q-quantile (0 < q <= 1) of a histogram given as rows (idx, n), nearest-rank method:
-- the representative value of the bucket holding rank ceil(q * total).
CREATE OR REPLACE FUNCTION ioc_hist_quantile(p_idx smallint[], p_n bigint[], q double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
    WITH h AS (SELECT idx, n, sum(n) OVER (ORDER BY idx) AS cum, sum(n) OVER () AS total
                 FROM unnest(p_idx, p_n) AS u(idx, n))
    SELECT ioc_hist_value(idx) FROM h
     WHERE cum >= ceil(q * total) AND total > 0
     ORDER BY idx LIMIT 1
$$;

-- The q-quantile of probe latency (ms) for some targets over a window, from the rollups.
CREATE OR REPLACE FUNCTION ioc_latency_quantile(p_targets text[], p_from timestamptz,
                                                p_to timestamptz, q double precision)
RETURNS double precision LANGUAGE sql STABLE AS $$
    SELECT ioc_hist_quantile(array_agg(idx ORDER BY idx), array_agg(n ORDER BY idx), q)
      FROM ioc_probe_hist(p_targets, p_from, p_to)
$$;

-- Retention by dropping whole chunks (Apache build); horizons come from the config.
CREATE OR REPLACE FUNCTION ioc_apply_retention(p_raw interval, p_rollups interval)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    dropped integer := 0;
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['probe_results', 'samples'] LOOP
        dropped := dropped + (SELECT count(*) FROM drop_chunks(t::regclass, older_than => p_raw));
    END LOOP;
    FOREACH t IN ARRAY ARRAY['probe_rollup_1m', 'sample_rollup_1m'] LOOP
        -- minute rollups live as long as the raw data they summarise (at least 7 days)
        dropped := dropped + (SELECT count(*) FROM drop_chunks(t::regclass,
                               older_than => greatest(p_raw, interval '7 days')));
    END LOOP;
    FOREACH t IN ARRAY ARRAY['probe_rollup_1h', 'sample_rollup_1h'] LOOP
        dropped := dropped + (SELECT count(*) FROM drop_chunks(t::regclass, older_than => p_rollups));
    END LOOP;
    RETURN dropped;
END $$;

-- Which TimescaleDB licence this server runs: 'apache' or 'timescale'.
CREATE OR REPLACE FUNCTION ioc_timescale_license() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT current_setting('timescaledb.license', true) $$;

-- Native compression is a Timescale-licence extra: enable it only where allowed.
DO $$
BEGIN
    IF ioc_timescale_license() = 'timescale' THEN
        ALTER TABLE probe_results SET (timescaledb.compress, timescaledb.compress_segmentby = 'target_id');
        PERFORM add_compression_policy('probe_results', INTERVAL '7 days', if_not_exists => true);
        ALTER TABLE samples SET (timescaledb.compress, timescaledb.compress_segmentby = 'series_id');
        PERFORM add_compression_policy('samples', INTERVAL '7 days', if_not_exists => true);
    END IF;
END $$;
