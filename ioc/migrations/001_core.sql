-- Core storage: targets, probe results, metric series and samples, rollups, retention.
-- Everything here works on the Apache-licensed TimescaleDB build (hypertables, time_bucket,
-- drop_chunks). Rollups are maintained by the application (see 002_rollups.sql).

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- The targets as last configured, written by the collectors when they load the config.
CREATE TABLE IF NOT EXISTS targets (
    id          text PRIMARY KEY,
    system      text NOT NULL,
    kind        text NOT NULL,
    name        text NOT NULL,
    labels      jsonb NOT NULL DEFAULT '{}'::jsonb,
    interval_s  double precision NOT NULL CHECK (interval_s > 0),
    enabled     boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per probe attempt. A failure is data: ok = false with a reason category.
-- Latency figures are milliseconds; NULL when the phase did not happen.
CREATE TABLE IF NOT EXISTS probe_results (
    time         timestamptz NOT NULL,
    target_id    text NOT NULL,
    ok           boolean NOT NULL,
    reason       text,
    status_code  integer,
    duration_ms  double precision,
    dns_ms       double precision,
    connect_ms   double precision,
    tls_ms       double precision,
    ttfb_ms      double precision,
    cert_days    double precision,
    bytes        integer,
    detail       text,
    collector    text,
    CONSTRAINT probe_reason_when_failed CHECK (ok OR reason IS NOT NULL)
);
SELECT create_hypertable('probe_results', by_range('time', INTERVAL '1 day'), if_not_exists => true);
-- The unique key makes a replayed batch a no-op (idempotent writes).
CREATE UNIQUE INDEX IF NOT EXISTS probe_results_target_time ON probe_results (target_id, time);

-- A series is a metric name with a label set; samples refer to it by id.
CREATE TABLE IF NOT EXISTS series (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    labels     jsonb NOT NULL DEFAULT '{}'::jsonb,
    target_id  text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, labels)
);
CREATE INDEX IF NOT EXISTS series_labels ON series USING gin (labels);
CREATE INDEX IF NOT EXISTS series_target ON series (target_id);

CREATE TABLE IF NOT EXISTS samples (
    time       timestamptz NOT NULL,
    series_id  bigint NOT NULL,
    value      double precision NOT NULL
);
SELECT create_hypertable('samples', by_range('time', INTERVAL '1 day'), if_not_exists => true);
CREATE UNIQUE INDEX IF NOT EXISTS samples_series_time ON samples (series_id, time);

-- Latency histograms use fixed log-scale buckets: index i holds durations in
-- [2^(i/8), 2^((i+1)/8)) ms, i.e. 8 buckets per doubling (relative error under 4.5%).
-- Merging buckets is exact, so percentiles over any window stay correct; averaging
-- percentiles would not be. Histograms are stored sparse: parallel arrays of index and count.
CREATE OR REPLACE FUNCTION ioc_hist_index(ms double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT floor(log(2.0, greatest(ms, 0.001)::numeric) * 8)::smallint $$;

CREATE OR REPLACE FUNCTION ioc_hist_value(idx integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT power(2.0, (idx + 0.5) / 8.0)::double precision $$;

CREATE TABLE IF NOT EXISTS probe_rollup_1m (
    bucket       timestamptz NOT NULL,
    target_id    text NOT NULL,
    total        integer NOT NULL,
    ok           integer NOT NULL,
    latency_n    integer NOT NULL,
    latency_sum  double precision NOT NULL,
    latency_min  double precision,
    latency_max  double precision,
    hist_idx     smallint[] NOT NULL,
    hist_cnt     integer[] NOT NULL,
    PRIMARY KEY (target_id, bucket)
);
SELECT create_hypertable('probe_rollup_1m', by_range('bucket', INTERVAL '7 days'), if_not_exists => true);

CREATE TABLE IF NOT EXISTS probe_rollup_1h (LIKE probe_rollup_1m INCLUDING ALL);
SELECT create_hypertable('probe_rollup_1h', by_range('bucket', INTERVAL '30 days'), if_not_exists => true);

CREATE TABLE IF NOT EXISTS sample_rollup_1m (
    bucket     timestamptz NOT NULL,
    series_id  bigint NOT NULL,
    count      integer NOT NULL,
    sum        double precision NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    last       double precision NOT NULL,
    PRIMARY KEY (series_id, bucket)
);
SELECT create_hypertable('sample_rollup_1m', by_range('bucket', INTERVAL '7 days'), if_not_exists => true);

CREATE TABLE IF NOT EXISTS sample_rollup_1h (LIKE sample_rollup_1m INCLUDING ALL);
SELECT create_hypertable('sample_rollup_1h', by_range('bucket', INTERVAL '30 days'), if_not_exists => true);

-- Minutes whose raw data changed since their rollups were computed. Writers add rows in the
-- same transaction as their data; ioc_rollup_run() consumes them.
CREATE TABLE IF NOT EXISTS rollup_dirty (
    source  text NOT NULL CHECK (source IN ('probe', 'sample')),
    minute  timestamptz NOT NULL,
    PRIMARY KEY (source, minute)
);
