-- Daily probe rollups and three-level readers: a 30-day technical KPI read 360,000 hourly rows
-- for 500 targets (about 0.5 s; latency 1.2 s). Now whole local days come from probe_rollup_1d,
-- whole hours outside those days from probe_rollup_1h and the remaining minutes from
-- probe_rollup_1m, each level reading only the bucket ranges it needs. Counts are integer sums
-- and histograms are merged exactly, so every value is the same to the last digit as before.

-- Start of the local day (Asia/Ho_Chi_Minh: UTC+7 with no daylight saving) holding ts.
CREATE OR REPLACE FUNCTION ioc_local_midnight(ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT time_bucket('1 day', ts, '2000-01-01 00:00+07'::timestamptz) $$;

-- Same columns as the hourly rollup; bucket = local midnight.
CREATE TABLE IF NOT EXISTS probe_rollup_1d (LIKE probe_rollup_1h INCLUDING ALL);
SELECT create_hypertable('probe_rollup_1d', by_range('bucket', INTERVAL '180 days'),
                         if_not_exists => true);

-- Recompute the daily rollup for the local days touching [p_from, p_to) from the hourly rollup.
CREATE OR REPLACE FUNCTION ioc_rollup_probe_days(p_from timestamptz, p_to timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d_from timestamptz := ioc_local_midnight(p_from);
    d_to   timestamptz := ioc_local_midnight(p_to - interval '1 microsecond') + interval '1 day';
BEGIN
    DELETE FROM probe_rollup_1d WHERE bucket >= d_from AND bucket < d_to;
    INSERT INTO probe_rollup_1d
    SELECT b.bucket, b.target_id, b.total, b.ok, b.latency_n, b.latency_sum, b.latency_min,
           b.latency_max, coalesce(h.idx, '{}'), coalesce(h.cnt, '{}')
      FROM (SELECT ioc_local_midnight(bucket) AS bucket, target_id,
                   sum(total)::int AS total, sum(ok)::int AS ok, sum(latency_n)::int AS latency_n,
                   sum(latency_sum) AS latency_sum, min(latency_min) AS latency_min,
                   max(latency_max) AS latency_max
              FROM probe_rollup_1h WHERE bucket >= d_from AND bucket < d_to
             GROUP BY 1, 2) b
      LEFT JOIN (SELECT bucket, target_id, array_agg(idx ORDER BY idx) AS idx,
                        array_agg(n ORDER BY idx) AS cnt
                   FROM (SELECT ioc_local_midnight(r.bucket) AS bucket, r.target_id,
                                u.idx, sum(u.n)::int AS n
                           FROM probe_rollup_1h r, unnest(r.hist_idx, r.hist_cnt) AS u(idx, n)
                          WHERE r.bucket >= d_from AND r.bucket < d_to
                          GROUP BY 1, 2, 3) x
                  GROUP BY 1, 2) h USING (bucket, target_id);
END $$;

-- ioc_rollup_probes and ioc_apply_retention keep their 002 bodies under new names and gain the
-- daily rollup in the wrappers below (re-running this file renames nothing twice).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
            ('ioc_rollup_probes', 'ioc_rollup_probes_1m_1h', '(timestamptz, timestamptz)'),
            ('ioc_apply_retention', 'ioc_apply_retention_raw_1m_1h', '(interval, interval)'))
            AS v(name, keep_as, args) LOOP
        IF to_regprocedure(r.keep_as || r.args) IS NULL THEN
            EXECUTE format('ALTER FUNCTION %s%s RENAME TO %I', r.name, r.args, r.keep_as);
        END IF;
    END LOOP;
END $$;

-- The minute and hour work of 002, then the local days of the hours it touched, so
-- ioc_rollup_run keeps the daily rollup current, late and replayed data for past days included.
CREATE OR REPLACE FUNCTION ioc_rollup_probes(p_from timestamptz, p_to timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ioc_rollup_probes_1m_1h(p_from, p_to);
    PERFORM ioc_rollup_probe_days(p_from, p_to);
END $$;

-- Backfill from the hourly rows already stored, a month at a time.
DO $$
DECLARE
    d_first timestamptz := (SELECT min(bucket) FROM probe_rollup_1h);
    d_last  timestamptz := (SELECT max(bucket) + interval '1 hour' FROM probe_rollup_1h);
    d       timestamptz := ioc_local_midnight(d_first);
BEGIN
    WHILE d < d_last LOOP
        PERFORM ioc_rollup_probe_days(d, least(d + interval '30 days', d_last));
        d := d + interval '30 days';
    END LOOP;
END $$;

-- The bucket ranges a window [p_from, p_to) reads at each level, taken at minute resolution:
-- whole local days from the daily rollup, whole hours outside those days from the hourly one,
-- the minutes left at the edges from the minute one. Each level reads at most two ranges, the
-- window at its resolution less the coarser level's range; an empty range has lo >= hi:
--   [1] day lo, [2] day hi, [3]-[4] and [5]-[6] hours, [7]-[8] and [9]-[10] minutes.
-- [3] and [6] bound every whole hour of the window, days included.
CREATE OR REPLACE FUNCTION ioc_probe_spans(p_from timestamptz, p_to timestamptz)
RETURNS timestamptz[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    f  timestamptz := time_bucket('1 minute', p_from);
    t  timestamptz := time_bucket('1 minute', p_to);
    hf timestamptz := time_bucket('1 hour', p_from + interval '1 hour' - interval '1 microsecond');
    ht timestamptz := time_bucket('1 hour', p_to);
    df timestamptz := ioc_local_midnight(p_from + interval '1 day' - interval '1 microsecond');
    dt timestamptz := ioc_local_midnight(p_to);
BEGIN
    RETURN ARRAY[df, greatest(df, dt),
                 hf, least(df, ht), greatest(dt, least(df, ht)), ht,
                 f, least(hf, t), greatest(ht, least(hf, t)), t];
END $$;

-- Bucket starts p_lo, p_lo + p_width, ... before p_hi. STRICT and ROWS: not inlined, so the
-- planner counts a couple of buckets per maintenance window instead of generate_series' 1,000
-- (which priced the readers high enough to be JIT-compiled, seconds per read).
CREATE OR REPLACE FUNCTION ioc_buckets_between(p_lo timestamptz, p_hi timestamptz,
                                               p_width interval)
RETURNS SETOF timestamptz LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 2 AS
$$ SELECT generate_series(p_lo, p_hi - p_width, p_width) $$;

-- The rollup rows that make up [p_from, p_to) for some targets: those of p_targets if given,
-- else those p_filter selects (ioc_kpi_targets). With p_maint, minutes touching a maintenance
-- window marked exclude_from_sla for the target are left out: a day overlapping such a window
-- is read as its hours, an hour overlapping one as its minutes (one index range per such day or
-- hour: OFFSET 0 keeps the planner from merging a whole rollup against them). Inlined into its
-- callers, so with a window known at planning every range is a constant (chunk exclusion,
-- index ranges).
CREATE OR REPLACE FUNCTION ioc_probe_levels(p_filter jsonb, p_targets text[], p_from timestamptz,
                                            p_to timestamptz, p_maint boolean)
RETURNS TABLE (target_id text, total integer, ok integer, hist_idx smallint[],
               hist_cnt integer[]) LANGUAGE sql STABLE AS $$
    WITH tg AS (SELECT id FROM ioc_kpi_targets(p_filter) WHERE p_targets IS NULL
                UNION ALL SELECT unnest(p_targets)),
    mw AS (SELECT t.id AS target_id, m.starts_at, m.ends_at
             FROM maintenance_windows m JOIN ioc_kpi_targets(p_filter) t
                  ON (m.system IS NULL OR m.system = t.system)
                 AND ioc_labels_match(m.matchers, t.labels)
            WHERE p_maint AND m.exclude_from_sla AND m.starts_at < p_to AND m.ends_at > p_from
              AND t.id IN (SELECT id FROM tg)),
    -- days of the day range, and hours of the whole-hour range, overlapping maintenance
    fd AS (SELECT DISTINCT mw.target_id, d
             FROM mw, ioc_buckets_between(
                 greatest(ioc_local_midnight(mw.starts_at), (ioc_probe_spans(p_from, p_to))[1]),
                 least(ioc_local_midnight(mw.ends_at - interval '1 microsecond') + interval '1 day',
                       (ioc_probe_spans(p_from, p_to))[2]),
                 interval '1 day') AS d),
    fh AS (SELECT DISTINCT mw.target_id, h
             FROM mw, ioc_buckets_between(
                 greatest(time_bucket('1 hour', mw.starts_at), (ioc_probe_spans(p_from, p_to))[3]),
                 least(time_bucket('1 hour', mw.ends_at - interval '1 microsecond') + interval '1 hour',
                       (ioc_probe_spans(p_from, p_to))[6]),
                 interval '1 hour') AS h),
    days AS (
        SELECT r.target_id, r.total, r.ok, r.hist_idx, r.hist_cnt FROM probe_rollup_1d r
         WHERE r.bucket >= (ioc_probe_spans(p_from, p_to))[1]
           AND r.bucket < (ioc_probe_spans(p_from, p_to))[2]
           AND r.target_id IN (SELECT id FROM tg)
           AND NOT EXISTS (SELECT 1 FROM fd WHERE fd.target_id = r.target_id
                                              AND fd.d = r.bucket)),
    hours AS (
        SELECT r.bucket, r.target_id, r.total, r.ok, r.hist_idx, r.hist_cnt
          FROM probe_rollup_1h r
         WHERE ((r.bucket >= (ioc_probe_spans(p_from, p_to))[3]
                 AND r.bucket < (ioc_probe_spans(p_from, p_to))[4])
             OR (r.bucket >= (ioc_probe_spans(p_from, p_to))[5]
                 AND r.bucket < (ioc_probe_spans(p_from, p_to))[6]))
           AND r.target_id IN (SELECT id FROM tg)
        UNION ALL
        SELECT r.* FROM fd, LATERAL (
            SELECT r.bucket, r.target_id, r.total, r.ok, r.hist_idx, r.hist_cnt
              FROM probe_rollup_1h r
             WHERE r.target_id = fd.target_id AND r.bucket >= fd.d
               AND r.bucket < fd.d + interval '1 day' OFFSET 0) r),
    mins AS (
        SELECT r.bucket, r.target_id, r.total, r.ok, r.hist_idx, r.hist_cnt
          FROM probe_rollup_1m r
         WHERE ((r.bucket >= (ioc_probe_spans(p_from, p_to))[7]
                 AND r.bucket < (ioc_probe_spans(p_from, p_to))[8])
             OR (r.bucket >= (ioc_probe_spans(p_from, p_to))[9]
                 AND r.bucket < (ioc_probe_spans(p_from, p_to))[10]))
           AND r.target_id IN (SELECT id FROM tg)
        UNION ALL
        SELECT r.* FROM fh, LATERAL (
            SELECT r.bucket, r.target_id, r.total, r.ok, r.hist_idx, r.hist_cnt
              FROM probe_rollup_1m r
             WHERE r.target_id = fh.target_id AND r.bucket >= fh.h
               AND r.bucket < fh.h + interval '1 hour' OFFSET 0) r)
    SELECT * FROM days
    UNION ALL
    SELECT h.target_id, h.total, h.ok, h.hist_idx, h.hist_cnt FROM hours h
     WHERE NOT EXISTS (SELECT 1 FROM fh WHERE fh.target_id = h.target_id AND fh.h = h.bucket)
    UNION ALL
    SELECT m.target_id, m.total, m.ok, m.hist_idx, m.hist_cnt FROM mins m
     WHERE NOT EXISTS (SELECT 1 FROM mw WHERE mw.target_id = m.target_id
                          AND mw.starts_at < m.bucket + interval '1 minute'
                          AND mw.ends_at > m.bucket)
$$;

-- Probe counts per target over [from, to) at minute resolution, leaving out every minute that
-- touches a maintenance window marked exclude_from_sla for that target.
CREATE OR REPLACE FUNCTION ioc_probe_counts(p_from timestamptz, p_to timestamptz, p_filter jsonb)
RETURNS TABLE (target_id text, system text, total bigint, ok bigint) LANGUAGE sql STABLE AS $$
    SELECT t.id, t.system, x.total, x.ok
      FROM ioc_kpi_targets(p_filter) t
      LEFT JOIN (SELECT l.target_id, sum(l.total)::bigint AS total, sum(l.ok)::bigint AS ok
                   FROM ioc_probe_levels(p_filter, NULL, p_from, p_to, true) l
                  GROUP BY l.target_id) x ON x.target_id = t.id
$$;

-- Latency quantile (ms) per group, all probes of the group merged (maintenance not filtered).
-- Histogram buckets are summed under a small integer key per group (hashing the jsonb labels
-- per bucket row cost a quarter of the read); unnest in the select list streams where unnest
-- in FROM builds a tuplestore per row.
CREATE OR REPLACE FUNCTION ioc_kpi_latency(p_q double precision, p_from timestamptz,
                                           p_to timestamptz, p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH t AS (SELECT id, ioc_kpi_tech_labels(p_by, system, id) AS g
                 FROM ioc_kpi_targets(p_filter)),
    gk AS (SELECT g, row_number() OVER () AS k FROM (SELECT DISTINCT g FROM t) x),
    tk AS (SELECT t.id, gk.k FROM t JOIN gk USING (g)),
    h AS (SELECT k, idx, sum(n)::bigint AS n
            FROM (SELECT tk.k, unnest(l.hist_idx) AS idx, unnest(l.hist_cnt) AS n
                    FROM ioc_probe_levels(p_filter, NULL, p_from, p_to, false) l
                    JOIN tk ON tk.id = l.target_id) u
           GROUP BY 1, 2)
    SELECT gk.g, ioc_hist_quantile(array_agg(h.idx ORDER BY h.idx) FILTER (WHERE h.n IS NOT NULL),
                                   array_agg(h.n ORDER BY h.idx) FILTER (WHERE h.n IS NOT NULL),
                                   p_q),
           NULL::float8, NULL::float8
      FROM gk LEFT JOIN h USING (k)
     GROUP BY gk.k, gk.g ORDER BY gk.g::text
$$;

-- The merged latency histogram of some targets over [p_from, p_to) (ioc_latency_quantile).
-- EXECUTE plans each call with the actual window (see 024).
CREATE OR REPLACE FUNCTION ioc_probe_hist(p_targets text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (idx smallint, n bigint) LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT idx, sum(n)::bigint
           FROM (SELECT unnest(hist_idx) AS idx, unnest(hist_cnt) AS n
                   FROM ioc_probe_levels(''{}'', $1, $2, $3, false)) u
          GROUP BY 1 ORDER BY 1'
        USING p_targets, p_from, p_to;
END $$;

-- Retention: 002's horizons, and the daily rollup is dropped only after every hourly row of its
-- days: day chunks end on UTC chunk boundaries, so a local day can reach up to a day into the
-- next hourly chunk.
CREATE OR REPLACE FUNCTION ioc_apply_retention(p_raw interval, p_rollups interval)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    hourly_chunk interval := (SELECT time_interval FROM timescaledb_information.dimensions
                               WHERE hypertable_name = 'probe_rollup_1h');
BEGIN
    RETURN ioc_apply_retention_raw_1m_1h(p_raw, p_rollups)
         + (SELECT count(*) FROM drop_chunks('probe_rollup_1d',
                older_than => p_rollups + hourly_chunk + interval '1 day'))::integer;
END $$;

UPDATE kpi_definitions SET source = 'probe_rollup_1d/1h/1m'
 WHERE id IN ('availability', 'error_rate', 'latency.p50', 'latency.p95', 'latency.p99');
