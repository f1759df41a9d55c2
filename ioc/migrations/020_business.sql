-- Business records, working-day calendar, maintenance windows, SLO objectives and the KPI
-- catalogue. Owner: KPI/report. Definitions of every KPI: docs/KPI.md.

-- The province's time zone (Vietnam has kept UTC+7 with no daylight saving since 1975).
CREATE OR REPLACE FUNCTION ioc_tz() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT 'Asia/Ho_Chi_Minh'::text $$;

-- The local (province) calendar date of an instant.
CREATE OR REPLACE FUNCTION ioc_local_day(ts timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::date $$;

-- The fraction of the local day elapsed at an instant (0 at local midnight).
CREATE OR REPLACE FUNCTION ioc_day_frac(ts timestamptz) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT extract(epoch FROM (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')
                             - date_trunc('day', ts AT TIME ZONE 'Asia/Ho_Chi_Minh'))::double precision
          / 86400.0 $$;

-- ---------------------------------------------------------------------------------------------
-- Working-day calendar. One source: ioc.kpi.calendar loads the `holidays` package's Vietnamese
-- holidays plus the config's bridge and make-up days (sync_calendar). The migration seeds the
-- weekends so the SQL works before the first sync. wd_index = working days before `day` since
-- the first row, so the working time between two instants is a difference of positions.
CREATE TABLE IF NOT EXISTS calendar_days (
    day       date PRIMARY KEY,
    working   boolean NOT NULL,
    reason    text,
    wd_index  integer NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS calendar_meta (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    source      text NOT NULL,
    fingerprint text NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- Recompute wd_index for the whole table (after any change to `working`).
CREATE OR REPLACE FUNCTION ioc_calendar_reindex() RETURNS void LANGUAGE sql AS $$
    UPDATE calendar_days c SET wd_index = x.idx
      FROM (SELECT day, (coalesce(sum(working::int) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED
                          PRECEDING AND 1 PRECEDING), 0))::int AS idx
              FROM calendar_days) x
     WHERE c.day = x.day AND c.wd_index IS DISTINCT FROM x.idx
$$;

INSERT INTO calendar_days (day, working, reason)
SELECT d::date, extract(isodow FROM d) < 6,
       CASE WHEN extract(isodow FROM d) >= 6 THEN 'weekend' END
  FROM generate_series(date '2000-01-01', date '2040-12-31', interval '1 day') AS d
ON CONFLICT (day) DO NOTHING;
SELECT ioc_calendar_reindex();

-- The position of an instant on the working-time axis, in working days: whole working days
-- before its local date plus the elapsed fraction of that date if it is a working day. A
-- non-working day has the position of the start of the next working day. NULL outside the table.
CREATE OR REPLACE FUNCTION ioc_wd_pos(ts timestamptz) RETURNS double precision
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.wd_index + CASE WHEN c.working THEN ioc_day_frac(ts) ELSE 0 END
      FROM calendar_days c WHERE c.day = ioc_local_day(ts)
$$;

-- Working days (fractional, 24 h per working day) in [a, b); negative when b < a.
CREATE OR REPLACE FUNCTION ioc_working_days_between(a timestamptz, b timestamptz)
RETURNS double precision LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT ioc_wd_pos(b) - ioc_wd_pos(a) $$;

-- ---------------------------------------------------------------------------------------------
-- Business records (docs/SIM_API.md), fed by ioc_upsert_records from the collectors.
CREATE TABLE IF NOT EXISTS dossiers (
    code             text PRIMARY KEY,
    procedure_code   text NOT NULL,
    agency_code      text NOT NULL,
    channel          smallint NOT NULL CHECK (channel IN (1, 2, 3)),
    level            text,
    status           smallint NOT NULL CHECK (status BETWEEN 1 AND 10),
    received_at      timestamptz NOT NULL,
    due_at           timestamptz,
    finished_at      timestamptz,
    returned_at      timestamptz,
    supplements      jsonb NOT NULL DEFAULT '[]'::jsonb,
    fee              numeric NOT NULL DEFAULT 0,
    paid_online      boolean NOT NULL DEFAULT false,
    payment_ref      text,
    digitised        boolean NOT NULL DEFAULT false,
    e_result         boolean NOT NULL DEFAULT false,
    synced_national  boolean NOT NULL DEFAULT false,
    synthetic        boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL,
    ingested_at      timestamptz NOT NULL DEFAULT now(),
    -- The 766 end time: done, else result returned, else stopped/rejected (last update).
    end_at           timestamptz GENERATED ALWAYS AS (coalesce(finished_at, returned_at,
                         CASE WHEN status IN (3, 8) THEN updated_at END)) STORED
);
CREATE INDEX IF NOT EXISTS dossiers_received ON dossiers (received_at);
CREATE INDEX IF NOT EXISTS dossiers_end ON dossiers (end_at);
CREATE INDEX IF NOT EXISTS dossiers_open ON dossiers (received_at) WHERE end_at IS NULL;

-- One row per supplement request, rewritten with its dossier.
CREATE TABLE IF NOT EXISTS dossier_supplements (
    code          text NOT NULL REFERENCES dossiers (code) ON DELETE CASCADE,
    seq           integer NOT NULL,
    requested_at  timestamptz NOT NULL,
    resumed_at    timestamptz,
    PRIMARY KEY (code, seq)
);

CREATE TABLE IF NOT EXISTS payment_transactions (
    ref                   text PRIMARY KEY,
    dossier_code          text,
    payment_request_code  text,
    intermediary          text NOT NULL,
    amount                numeric NOT NULL,
    status                text NOT NULL CHECK (status IN ('success', 'failed', 'pending')),
    error_code            text,
    created_at            timestamptz NOT NULL,
    settled_at            timestamptz,
    latency_ms            double precision,
    synthetic             boolean NOT NULL DEFAULT false,
    updated_at            timestamptz NOT NULL,
    ingested_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payment_transactions_created ON payment_transactions (created_at);
CREATE INDEX IF NOT EXISTS payment_transactions_settled ON payment_transactions (settled_at);

-- The daily (T+1) reconciliation files. A call carries whole files: the rows of each
-- (side, file_date) it names replace the stored ones (duplicates in a file are kept: n).
CREATE TABLE IF NOT EXISTS recon_rows (
    side                  text NOT NULL CHECK (side IN ('intermediary', 'treasury')),
    file_date             date NOT NULL,
    n                     integer NOT NULL,
    ref                   text NOT NULL,
    dossier_code          text,
    payment_request_code  text,
    amount                numeric NOT NULL,
    settled_at            timestamptz,
    ingested_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (side, file_date, n)
);
CREATE INDEX IF NOT EXISTS recon_rows_ref ON recon_rows (ref, side);

CREATE TABLE IF NOT EXISTS documents (
    id                 text PRIMARY KEY,
    direction          text NOT NULL CHECK (direction IN ('in', 'out')),
    agency_code        text NOT NULL,
    signed             boolean NOT NULL DEFAULT false,
    electronic         boolean NOT NULL DEFAULT false,
    via_national_axis  boolean NOT NULL DEFAULT false,
    received_at        timestamptz NOT NULL,
    due_at             timestamptz,
    handled_at         timestamptz,
    synthetic          boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL,
    ingested_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS documents_received ON documents (received_at);
CREATE INDEX IF NOT EXISTS documents_open ON documents (due_at) WHERE handled_at IS NULL;

-- Dossier counts the national portal holds per local day (GET /api/national/count), for 1.4.
CREATE TABLE IF NOT EXISTS national_counts (
    day         date PRIMARY KEY,
    count       integer NOT NULL CHECK (count >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- Maintenance windows: written by alerts (config and API), read by the KPI layer. `matchers`
-- select targets: a JSON array of {"label","op","value"} (op =, !=, =~, !~; regexes anchored) or
-- an object of label equalities, matched against the target's labels plus target, target_id,
-- system, kind and name. `system` NULL means every system.
CREATE TABLE IF NOT EXISTS maintenance_windows (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL,
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    system            text,
    matchers          jsonb NOT NULL DEFAULT '[]'::jsonb,
    exclude_from_sla  boolean NOT NULL DEFAULT true,
    source            text NOT NULL DEFAULT 'api' CHECK (source IN ('config', 'api')),
    created_by        text,
    comment           text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX IF NOT EXISTS maintenance_windows_time ON maintenance_windows (starts_at, ends_at);

-- True when every matcher matches the label set (an empty list matches everything).
CREATE OR REPLACE FUNCTION ioc_labels_match(p_matchers jsonb, p_labels jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(bool_and(CASE m->>'op'
               WHEN '='  THEN coalesce(p_labels->>(m->>'label'), '') = m->>'value'
               WHEN '!=' THEN coalesce(p_labels->>(m->>'label'), '') <> m->>'value'
               WHEN '=~' THEN coalesce(p_labels->>(m->>'label'), '') ~ ('^(?:' || (m->>'value') || ')$')
               WHEN '!~' THEN coalesce(p_labels->>(m->>'label'), '') !~ ('^(?:' || (m->>'value') || ')$')
           END), true)
      FROM jsonb_array_elements(CASE jsonb_typeof(p_matchers)
               WHEN 'object' THEN (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                       'label', k, 'op', '=', 'value', v)), '[]'::jsonb)
                                     FROM jsonb_each_text(p_matchers) AS e(k, v))
               WHEN 'array' THEN p_matchers
               ELSE '[]'::jsonb END) AS m
$$;

-- The label set a target is matched on.
CREATE OR REPLACE FUNCTION ioc_target_labels(t targets) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT t.labels || jsonb_build_object('target', t.id, 'target_id', t.id, 'system', t.system,
                                          'kind', t.kind, 'name', t.name)
$$;

-- ---------------------------------------------------------------------------------------------
-- SLO objectives per system, loaded from the config (ioc.kpi.catalogue.sync_objectives);
-- the seed is the default for a system the config does not name.
CREATE TABLE IF NOT EXISTS slo_objectives (
    system            text PRIMARY KEY,
    availability      double precision NOT NULL CHECK (availability > 0 AND availability < 1),
    latency_ms        double precision NOT NULL CHECK (latency_ms > 0),
    latency_quantile  double precision NOT NULL DEFAULT 0.95 CHECK (latency_quantile > 0
                                                                  AND latency_quantile <= 1),
    source            text NOT NULL DEFAULT 'default',
    updated_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO slo_objectives (system, availability, latency_ms) VALUES
    ('portal', 0.995, 2000), ('payments', 0.999, 1500), ('documents', 0.995, 2000)
ON CONFLICT (system) DO NOTHING;

-- The KPI catalogue (documented in docs/KPI.md; tests keep the two in agreement).
CREATE TABLE IF NOT EXISTS kpi_definitions (
    id                text PRIMARY KEY,
    family            text NOT NULL,
    name_vi           text NOT NULL,
    name_en           text NOT NULL,
    unit              text NOT NULL,
    formula           text NOT NULL,
    source            text NOT NULL,
    rule              text NOT NULL,
    target            double precision,
    max_score         double precision,
    threshold         double precision,
    higher_is_better  boolean NOT NULL DEFAULT true,
    group_by          text[] NOT NULL DEFAULT '{all}',
    filters           text[] NOT NULL DEFAULT '{}'
);

-- ---------------------------------------------------------------------------------------------
-- The collectors' write path for business records: upsert a batch of items of one kind
-- (docs/SIM_API.md shapes). Idempotent: an item older than the stored one is ignored, so
-- replays and out-of-order pages are harmless. Bad input raises and nothing is written.
-- Returns the number of items stored or replaced.
CREATE OR REPLACE FUNCTION ioc_upsert_records(p_kind text, p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer := 0;
BEGIN
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' THEN
        RAISE EXCEPTION 'ioc_upsert_records(%): items must be a JSON array, got %',
            p_kind, coalesce(jsonb_typeof(p_items), 'NULL');
    END IF;
    IF jsonb_array_length(p_items) = 0 THEN
        RETURN 0;
    END IF;
    CASE p_kind
        WHEN 'dossiers' THEN n := ioc_upsert_dossiers(p_items);
        WHEN 'transactions' THEN n := ioc_upsert_transactions(p_items);
        WHEN 'documents' THEN n := ioc_upsert_documents(p_items);
        WHEN 'recon_intermediary' THEN n := ioc_upsert_recon('intermediary', p_items);
        WHEN 'recon_treasury' THEN n := ioc_upsert_recon('treasury', p_items);
        WHEN 'national_counts' THEN n := ioc_upsert_national_counts(p_items);
        ELSE RAISE EXCEPTION 'ioc_upsert_records: unknown kind %; use dossiers, transactions, '
                             'documents, recon_intermediary, recon_treasury or national_counts',
                             quote_literal(p_kind);
    END CASE;
    RETURN n;
END $$;

-- Raise when any item lacks one of the required keys (names the first such item).
CREATE OR REPLACE FUNCTION ioc_require_keys(p_kind text, p_items jsonb, p_keys text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT i.ord, k INTO bad
      FROM jsonb_array_elements(p_items) WITH ORDINALITY AS i(item, ord), unnest(p_keys) AS k
     WHERE jsonb_typeof(i.item) <> 'object' OR i.item->k IS NULL OR i.item->k = 'null'::jsonb
     ORDER BY i.ord LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ioc_upsert_records(%): item % has no % (required: %)',
            p_kind, bad.ord, bad.k, array_to_string(p_keys, ', ');
    END IF;
END $$;

CREATE OR REPLACE FUNCTION ioc_upsert_dossiers(p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    codes text[];
BEGIN
    PERFORM ioc_require_keys('dossiers', p_items, ARRAY['code', 'procedure_code', 'agency_code',
        'channel', 'status', 'received_at', 'updated_at']);
    WITH src AS (
        SELECT DISTINCT ON (r.code) r.*
          FROM jsonb_to_recordset(p_items) AS r(
               code text, procedure_code text, agency_code text, channel smallint, level text,
               status smallint, received_at timestamptz, due_at timestamptz,
               finished_at timestamptz, returned_at timestamptz, supplements jsonb, fee numeric,
               paid_online boolean, payment_ref text, digitised boolean, e_result boolean,
               synced_national boolean, synthetic boolean, updated_at timestamptz)
         ORDER BY r.code, r.updated_at DESC),
    up AS (
        INSERT INTO dossiers AS d (code, procedure_code, agency_code, channel, level, status,
               received_at, due_at, finished_at, returned_at, supplements, fee, paid_online,
               payment_ref, digitised, e_result, synced_national, synthetic, updated_at)
        SELECT code, procedure_code, agency_code, channel, level, status, received_at, due_at,
               finished_at, returned_at, coalesce(supplements, '[]'), coalesce(fee, 0),
               coalesce(paid_online, false), payment_ref, coalesce(digitised, false),
               coalesce(e_result, false), coalesce(synced_national, false),
               coalesce(synthetic, false), updated_at
          FROM src
        ON CONFLICT (code) DO UPDATE SET
               procedure_code = EXCLUDED.procedure_code, agency_code = EXCLUDED.agency_code,
               channel = EXCLUDED.channel, level = EXCLUDED.level, status = EXCLUDED.status,
               received_at = EXCLUDED.received_at, due_at = EXCLUDED.due_at,
               finished_at = EXCLUDED.finished_at, returned_at = EXCLUDED.returned_at,
               supplements = EXCLUDED.supplements, fee = EXCLUDED.fee,
               paid_online = EXCLUDED.paid_online, payment_ref = EXCLUDED.payment_ref,
               digitised = EXCLUDED.digitised, e_result = EXCLUDED.e_result,
               synced_national = EXCLUDED.synced_national, synthetic = EXCLUDED.synthetic,
               updated_at = EXCLUDED.updated_at, ingested_at = now()
         WHERE d.updated_at <= EXCLUDED.updated_at
        RETURNING d.code)
    SELECT coalesce(array_agg(code), '{}') INTO codes FROM up;

    DELETE FROM dossier_supplements WHERE code = ANY (codes);
    INSERT INTO dossier_supplements (code, seq, requested_at, resumed_at)
    SELECT d.code, s.ord, (s.e->>'requested_at')::timestamptz, (s.e->>'resumed_at')::timestamptz
      FROM dossiers d, jsonb_array_elements(d.supplements) WITH ORDINALITY AS s(e, ord)
     WHERE d.code = ANY (codes);
    RETURN cardinality(codes);
END $$;

CREATE OR REPLACE FUNCTION ioc_upsert_transactions(p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM ioc_require_keys('transactions', p_items, ARRAY['ref', 'intermediary', 'amount',
        'status', 'created_at', 'updated_at']);
    WITH src AS (
        SELECT DISTINCT ON (r.ref) r.*
          FROM jsonb_to_recordset(p_items) AS r(
               ref text, dossier_code text, payment_request_code text, intermediary text,
               amount numeric, status text, error_code text, created_at timestamptz,
               settled_at timestamptz, latency_ms double precision, synthetic boolean,
               updated_at timestamptz)
         ORDER BY r.ref, r.updated_at DESC),
    up AS (
        INSERT INTO payment_transactions AS p (ref, dossier_code, payment_request_code,
               intermediary, amount, status, error_code, created_at, settled_at, latency_ms,
               synthetic, updated_at)
        SELECT ref, dossier_code, payment_request_code, intermediary, amount, status, error_code,
               created_at, settled_at, latency_ms, coalesce(synthetic, false), updated_at
          FROM src
        ON CONFLICT (ref) DO UPDATE SET
               dossier_code = EXCLUDED.dossier_code,
               payment_request_code = EXCLUDED.payment_request_code,
               intermediary = EXCLUDED.intermediary, amount = EXCLUDED.amount,
               status = EXCLUDED.status, error_code = EXCLUDED.error_code,
               created_at = EXCLUDED.created_at, settled_at = EXCLUDED.settled_at,
               latency_ms = EXCLUDED.latency_ms, synthetic = EXCLUDED.synthetic,
               updated_at = EXCLUDED.updated_at, ingested_at = now()
         WHERE p.updated_at <= EXCLUDED.updated_at
        RETURNING 1)
    SELECT count(*) INTO n FROM up;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION ioc_upsert_documents(p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM ioc_require_keys('documents', p_items, ARRAY['id', 'direction', 'agency_code',
        'received_at', 'updated_at']);
    WITH src AS (
        SELECT DISTINCT ON (r.id) r.*
          FROM jsonb_to_recordset(p_items) AS r(
               id text, direction text, agency_code text, signed boolean, electronic boolean,
               via_national_axis boolean, received_at timestamptz, due_at timestamptz,
               handled_at timestamptz, synthetic boolean, updated_at timestamptz)
         ORDER BY r.id, r.updated_at DESC),
    up AS (
        INSERT INTO documents AS d (id, direction, agency_code, signed, electronic,
               via_national_axis, received_at, due_at, handled_at, synthetic, updated_at)
        SELECT id, direction, agency_code, coalesce(signed, false), coalesce(electronic, false),
               coalesce(via_national_axis, false), received_at, due_at, handled_at,
               coalesce(synthetic, false), updated_at
          FROM src
        ON CONFLICT (id) DO UPDATE SET
               direction = EXCLUDED.direction, agency_code = EXCLUDED.agency_code,
               signed = EXCLUDED.signed, electronic = EXCLUDED.electronic,
               via_national_axis = EXCLUDED.via_national_axis,
               received_at = EXCLUDED.received_at, due_at = EXCLUDED.due_at,
               handled_at = EXCLUDED.handled_at, synthetic = EXCLUDED.synthetic,
               updated_at = EXCLUDED.updated_at, ingested_at = now()
         WHERE d.updated_at <= EXCLUDED.updated_at
        RETURNING 1)
    SELECT count(*) INTO n FROM up;
    RETURN n;
END $$;

-- Items carry file_date (the YYYY-MM-DD of the file fetched); each named file is replaced whole.
CREATE OR REPLACE FUNCTION ioc_upsert_recon(p_side text, p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM ioc_require_keys('recon_' || p_side, p_items, ARRAY['file_date', 'ref', 'amount']);
    DELETE FROM recon_rows
     WHERE side = p_side
       AND file_date IN (SELECT DISTINCT (i->>'file_date')::date
                           FROM jsonb_array_elements(p_items) AS i);
    INSERT INTO recon_rows (side, file_date, n, ref, dossier_code, payment_request_code, amount,
                            settled_at)
    SELECT p_side, r.file_date,
           row_number() OVER (PARTITION BY r.file_date ORDER BY o.ord)::int,
           r.ref, r.dossier_code, r.payment_request_code, r.amount, r.settled_at
      FROM jsonb_array_elements(p_items) WITH ORDINALITY AS o(item, ord),
           jsonb_to_record(o.item) AS r(file_date date, ref text, dossier_code text,
                                         payment_request_code text, amount numeric,
                                         settled_at timestamptz);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION ioc_upsert_national_counts(p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM ioc_require_keys('national_counts', p_items, ARRAY['day', 'count']);
    INSERT INTO national_counts AS c (day, count)
    SELECT DISTINCT ON (r.day) r.day, r.count
      FROM jsonb_to_recordset(p_items) AS r(day date, count integer)
    ON CONFLICT (day) DO UPDATE SET count = EXCLUDED.count, updated_at = now();
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- ---------------------------------------------------------------------------------------------
-- KPI layer. Every reader calls ioc_kpi(kpi, from, to, filter); windows are [from, to).
-- Filter keys depend on the KPI (kpi_definitions.filters); "by" picks the grouping
-- (kpi_definitions.group_by, the first is the default).

-- Check the filter against what the KPI accepts; return the grouping to use.
CREATE OR REPLACE FUNCTION ioc_kpi_grouping(p_kpi text, p_filter jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    def kpi_definitions%ROWTYPE;
    bad text;
    grouping text;
BEGIN
    SELECT * INTO def FROM kpi_definitions WHERE id = p_kpi;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown KPI %; known: %', quote_literal(p_kpi),
            (SELECT string_agg(id, ', ' ORDER BY id) FROM kpi_definitions)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(p_filter) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'KPI filter must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k INTO bad FROM jsonb_object_keys(p_filter) AS k
     WHERE k <> 'by' AND NOT k = ANY (def.filters) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'KPI % does not take filter %; it takes: %', p_kpi, quote_literal(bad),
            array_to_string(def.filters || 'by'::text, ', ') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    grouping := coalesce(p_filter->>'by', def.group_by[1]);
    IF NOT grouping = ANY (def.group_by) THEN
        RAISE EXCEPTION 'KPI % cannot be grouped by %; use one of: %', p_kpi, quote_literal(grouping),
            array_to_string(def.group_by, ', ') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN grouping;
END $$;

-- Targets selected by a technical filter (system, target).
CREATE OR REPLACE FUNCTION ioc_kpi_targets(p_filter jsonb)
RETURNS TABLE (id text, system text, labels jsonb) LANGUAGE sql STABLE AS $$
    SELECT t.id, t.system, ioc_target_labels(t) FROM targets t
     WHERE (p_filter->>'system' IS NULL OR t.system = p_filter->>'system')
       AND (p_filter->>'target' IS NULL OR t.id = p_filter->>'target')
$$;

-- Probe counts per target over [from, to) at minute resolution from the rollups, leaving out
-- every minute that touches a maintenance window marked exclude_from_sla for that target.
-- Whole hours clear of maintenance come from the hourly rollup.
CREATE OR REPLACE FUNCTION ioc_probe_counts(p_from timestamptz, p_to timestamptz, p_filter jsonb)
RETURNS TABLE (target_id text, system text, total bigint, ok bigint) LANGUAGE sql STABLE AS $$
    WITH t AS (SELECT * FROM ioc_kpi_targets(p_filter)),
    b AS (SELECT time_bucket('1 minute', p_from) AS f, time_bucket('1 minute', p_to) AS tt,
                 time_bucket('1 hour', p_from + interval '1 hour' - interval '1 microsecond') AS hf,
                 time_bucket('1 hour', p_to) AS ht),
    mw AS (SELECT t.id AS target_id, m.starts_at, m.ends_at
             FROM maintenance_windows m JOIN t ON (m.system IS NULL OR m.system = t.system)
                                              AND ioc_labels_match(m.matchers, t.labels)
            WHERE m.exclude_from_sla AND m.starts_at < p_to AND m.ends_at > p_from),
    hours AS (
        SELECT r.target_id, r.total, r.ok FROM probe_rollup_1h r, b
         WHERE b.hf < b.ht AND r.bucket >= b.hf AND r.bucket < b.ht
           AND r.target_id IN (SELECT id FROM t)
           AND NOT EXISTS (SELECT 1 FROM mw WHERE mw.target_id = r.target_id
                              AND mw.starts_at < r.bucket + interval '1 hour'
                              AND mw.ends_at > r.bucket)),
    mins AS (
        SELECT r.target_id, r.total, r.ok FROM probe_rollup_1m r, b
         WHERE r.bucket >= b.f AND r.bucket < b.tt AND r.target_id IN (SELECT id FROM t)
           AND (b.hf >= b.ht OR r.bucket < b.hf OR r.bucket >= b.ht
                OR EXISTS (SELECT 1 FROM mw WHERE mw.target_id = r.target_id
                              AND mw.starts_at < time_bucket('1 hour', r.bucket) + interval '1 hour'
                              AND mw.ends_at > time_bucket('1 hour', r.bucket)))
           AND NOT EXISTS (SELECT 1 FROM mw WHERE mw.target_id = r.target_id
                              AND mw.starts_at < r.bucket + interval '1 minute'
                              AND mw.ends_at > r.bucket))
    SELECT t.id, t.system, sum(x.total)::bigint, sum(x.ok)::bigint
      FROM t LEFT JOIN (SELECT * FROM hours UNION ALL SELECT * FROM mins) x ON x.target_id = t.id
     GROUP BY t.id, t.system
$$;

-- Label set of a technical grouping.
CREATE OR REPLACE FUNCTION ioc_kpi_tech_labels(p_by text, p_system text, p_target text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_by WHEN 'target' THEN jsonb_build_object('system', p_system, 'target', p_target)
                     WHEN 'system' THEN jsonb_build_object('system', p_system)
                     ELSE '{}'::jsonb END
$$;

-- Availability: per target ok ÷ probes with data; system and all: mean over targets with data.
-- error_rate: failed ÷ probes, pooled over the group. NULL when there is no data.
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
                ELSE avg(a) END,
           CASE WHEN p_kpi = 'error_rate' THEN sum(total - ok)::float8
                WHEN p_by = 'target' THEN sum(ok)::float8 ELSE sum(a) END,
           CASE WHEN p_kpi = 'error_rate' OR p_by = 'target' THEN sum(total)::float8
                ELSE count(a)::float8 END
      FROM c GROUP BY g ORDER BY g::text
$$;

-- Latency quantile (ms) from the rollup histograms, all probes of the group merged.
CREATE OR REPLACE FUNCTION ioc_kpi_latency(p_q double precision, p_from timestamptz,
                                           p_to timestamptz, p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH t AS (SELECT ioc_kpi_tech_labels(p_by, system, id) AS g, array_agg(id) AS ids
                 FROM ioc_kpi_targets(p_filter) GROUP BY 1)
    SELECT t.g, ioc_latency_quantile(t.ids, p_from, p_to, p_q), NULL::float8, NULL::float8
      FROM t ORDER BY t.g::text
$$;

-- Remaining error budget per system: 1 − (1 − availability) ÷ (1 − objective).
CREATE OR REPLACE FUNCTION ioc_kpi_error_budget(p_from timestamptz, p_to timestamptz,
                                                p_filter jsonb)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    SELECT a.labels, 1 - (1 - a.value) / (1 - o.availability), 1 - a.value, 1 - o.availability
      FROM ioc_kpi_probe_ratio('availability', p_from, p_to, p_filter, 'system') a
      JOIN slo_objectives o ON o.system = a.labels->>'system'
     ORDER BY a.labels::text
$$;

-- The configured objectives, as rows (labels: system, objective).
CREATE OR REPLACE FUNCTION ioc_kpi_objectives(p_filter jsonb)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('system', o.system, 'objective', x.k), x.v, NULL::float8, NULL::float8
      FROM slo_objectives o,
           LATERAL (VALUES ('availability', o.availability),
                           ('latency_ms', o.latency_ms),
                           ('latency_quantile', o.latency_quantile)) AS x(k, v)
     WHERE p_filter->>'system' IS NULL OR o.system = p_filter->>'system'
     ORDER BY o.system, x.k
$$;

-- The one entry point of the KPI layer.
CREATE OR REPLACE FUNCTION ioc_kpi(p_kpi text, p_from timestamptz, p_to timestamptz,
                                   p_filter jsonb DEFAULT '{}'::jsonb)
RETURNS TABLE (kpi text, labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE plpgsql STABLE AS $$
DECLARE
    grouping text := ioc_kpi_grouping(p_kpi, coalesce(p_filter, '{}'::jsonb));
    f jsonb := coalesce(p_filter, '{}'::jsonb);
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to <= p_from THEN
        RAISE EXCEPTION 'KPI window must have from < to, got [%, %)', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT p_kpi, r.labels, r.value, r.numerator, r.denominator
      FROM ioc_kpi_rows(p_kpi, p_from, p_to, f, grouping) AS r;
END $$;

-- Dispatch to the family function; 021+ extend this with CREATE OR REPLACE.
CREATE OR REPLACE FUNCTION ioc_kpi_rows(p_kpi text, p_from timestamptz, p_to timestamptz,
                                        p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE plpgsql STABLE AS $$
BEGIN
    CASE
        WHEN p_kpi IN ('availability', 'error_rate') THEN
            RETURN QUERY SELECT * FROM ioc_kpi_probe_ratio(p_kpi, p_from, p_to, p_filter, p_by);
        WHEN p_kpi IN ('latency.p50', 'latency.p95', 'latency.p99') THEN
            RETURN QUERY SELECT * FROM ioc_kpi_latency(substr(p_kpi, 10)::float8 / 100, p_from,
                                                       p_to, p_filter, p_by);
        WHEN p_kpi = 'slo.error_budget' THEN
            RETURN QUERY SELECT * FROM ioc_kpi_error_budget(p_from, p_to, p_filter);
        WHEN p_kpi = 'slo.objective' THEN
            RETURN QUERY SELECT * FROM ioc_kpi_objectives(p_filter);
        ELSE
            RAISE EXCEPTION 'KPI % is catalogued but not computed', p_kpi;
    END CASE;
END $$;

INSERT INTO kpi_definitions AS k (id, family, name_vi, name_en, unit, formula, source, rule,
                                  target, higher_is_better, group_by, filters) VALUES
('availability', 'technical', 'Độ sẵn sàng', 'Availability', 'ratio',
 'probes ok ÷ probes with data, per target; system = mean over its targets with data',
 'probe_rollup_1m/1h', 'maintenance windows with exclude_from_sla left out (minute resolution); no data = unknown (NULL)',
 NULL, true, '{system,target,all}', '{system,target}'),
('error_rate', 'technical', 'Tỷ lệ lỗi', 'Error rate', 'ratio',
 'failed probes ÷ probes, pooled over the group', 'probe_rollup_1m/1h',
 'same exclusions as availability', NULL, false, '{system,target,all}', '{system,target}'),
('latency.p50', 'technical', 'Độ trễ trung vị (p50)', 'Latency median (p50)', 'ms',
 'nearest-rank 50th percentile of probe durations, histograms merged', 'probe_rollup_1m/1h',
 'log-scale histogram, relative error < 4.5%', NULL, false, '{system,target,all}', '{system,target}'),
('latency.p95', 'technical', 'Độ trễ p95', 'Latency p95', 'ms',
 'nearest-rank 95th percentile of probe durations, histograms merged', 'probe_rollup_1m/1h',
 'log-scale histogram, relative error < 4.5%', NULL, false, '{system,target,all}', '{system,target}'),
('latency.p99', 'technical', 'Độ trễ p99', 'Latency p99', 'ms',
 'nearest-rank 99th percentile of probe durations, histograms merged', 'probe_rollup_1m/1h',
 'log-scale histogram, relative error < 4.5%', NULL, false, '{system,target,all}', '{system,target}'),
('slo.error_budget', 'technical', 'Ngân sách lỗi còn lại', 'Remaining error budget', 'ratio',
 '1 − (1 − availability) ÷ (1 − objective), per system', 'availability, slo_objectives (config)',
 'negative when the budget is overspent', NULL, true, '{system}', '{system}'),
('slo.objective', 'technical', 'Mục tiêu SLO', 'SLO objective', 'mixed',
 'the configured objectives (availability ratio, latency ms and quantile) per system',
 'slo_objectives (config)', 'window ignored', NULL, true, '{system}', '{system}')
ON CONFLICT (id) DO UPDATE SET family = EXCLUDED.family, name_vi = EXCLUDED.name_vi,
    name_en = EXCLUDED.name_en, unit = EXCLUDED.unit, formula = EXCLUDED.formula,
    source = EXCLUDED.source, rule = EXCLUDED.rule, target = EXCLUDED.target,
    higher_is_better = EXCLUDED.higher_is_better, group_by = EXCLUDED.group_by,
    filters = EXCLUDED.filters;
