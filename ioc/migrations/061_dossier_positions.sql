-- Dossier working-time positions stored at upsert (bench/bench_kpi.py: the 766 on-time rules
-- recomputed three calendar look-ups per dossier per read, ~1.2 s a month). Every stored
-- position is the expression 021 computed at read time. Working times that 2.2 sums are stored as
-- integer microseconds (round(days × 86400e6), exact: |days| < 1e5): bigint sums are exact, so
-- the values do not depend on the plan or on the order rows are read in (they differ from the
-- former float sums in their last digits only; docs/KPI.md).
--
-- Stored, kept by triggers (so the collectors' upsert and any direct INSERT/UPDATE agree):
--   dossiers: received_pos, due_pos, end_pos (ioc_wd_pos of received_at, due_at, end_at);
--     supplement_requests (its rows in dossier_supplements); for a finished dossier (end_at set)
--     its 766 judgement at the end time, which no window changes: end_class (1 early, 2 on time,
--     3 late), processing_us (end − received − supplement time) and allowed_us (due − received),
--     working time in microseconds.
--   dossier_supplements: requested_pos, resumed_pos.
-- A calendar change moves every position on or after the first changed day (wd_index is
-- cumulative): ioc_calendar_reindex() (run by ioc.kpi.calendar.sync_calendar) recomputes exactly
-- the rows with an instant on or after that day. Open dossiers are judged at the window end,
-- whose position ioc_wd_pos(to) stays live.

-- ---------------------------------------------------------------------------------------------
-- New columns (filled below by the triggers that keep them).
ALTER TABLE dossier_supplements
    ADD COLUMN IF NOT EXISTS requested_pos double precision,
    ADD COLUMN IF NOT EXISTS resumed_pos double precision;
ALTER TABLE dossiers
    ADD COLUMN IF NOT EXISTS received_pos double precision,
    ADD COLUMN IF NOT EXISTS due_pos double precision,
    ADD COLUMN IF NOT EXISTS end_pos double precision,
    ADD COLUMN IF NOT EXISTS supplement_requests integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS end_class smallint,
    ADD COLUMN IF NOT EXISTS processing_us bigint,
    ADD COLUMN IF NOT EXISTS allowed_us bigint;

-- ---------------------------------------------------------------------------------------------
-- The supplement requests of a dossier made before an instant (at position p_pos): how many, and
-- the working time they stopped the clock (each up to its resumption or the instant). The sum
-- runs in request order, so three or more requests always add in the same order.
CREATE OR REPLACE FUNCTION ioc_dossier_supplement_time(p_code text, p_at timestamptz,
                                                       p_pos double precision)
RETURNS TABLE (n bigint, ext double precision) LANGUAGE sql STABLE AS $$
    SELECT count(*),
           sum(greatest(0, least(coalesce(s.resumed_pos, p_pos), p_pos) - s.requested_pos)
               ORDER BY s.seq)
      FROM dossier_supplements s
     WHERE s.code = p_code AND s.requested_at < p_at
$$;

-- The 766 class of a dossier judged at position p_judge against its deadline extended by its
-- supplement time (p_due_eff), with p_requests supplement requests before the judging instant,
-- as a code (integer comparisons per dossier, not text): 1 early, 2 on_time, 3 late (finished),
-- 4 open_within, 5 open_overdue; ioc_766_class_name gives the names.
CREATE OR REPLACE FUNCTION ioc_766_class(p_finished boolean, p_requests bigint,
                                         p_judge double precision, p_due_eff double precision)
RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN p_finished THEN
                 CASE WHEN p_requests > 1 OR p_judge > p_due_eff THEN 3
                      WHEN floor(p_judge) < floor(p_due_eff) THEN 1
                      ELSE 2 END
            ELSE CASE WHEN p_requests > 1 OR p_judge > p_due_eff THEN 5 ELSE 4 END
            END)::smallint
$$;

CREATE OR REPLACE FUNCTION ioc_766_class_name(p_class integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['early', 'on_time', 'late', 'open_within', 'open_overdue'])[p_class]
$$;

-- A span of working days as integer microseconds (exact for |days| < 1e5: 8.64e15 < 2^53).
CREATE OR REPLACE FUNCTION ioc_wd_us(p_days double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(p_days * 86400e6::float8)::bigint
$$;

-- Every derived column of a dossier (received at, due at, ending at p_end_at): positions are
-- ioc_cal_pos of the instant's calendar row, the expression of ioc_wd_pos and of the 021 views;
-- a finished dossier is judged at its end time as 021 did. One query, for the trigger and the
-- fill below.
CREATE OR REPLACE FUNCTION ioc_dossier_derived(p_code text, p_received_at timestamptz,
                                               p_due_at timestamptz, p_end_at timestamptz)
RETURNS TABLE (received_pos double precision, due_pos double precision,
               end_pos double precision, supplement_requests integer, end_class smallint,
               processing_us bigint, allowed_us bigint) LANGUAGE sql STABLE AS $$
    SELECT p.r, p.du, p.e, p.n_all,
           CASE WHEN p_end_at IS NOT NULL
                THEN ioc_766_class(true, coalesce(s.n, 0), p.e, p.du + coalesce(s.ext, 0)) END,
           CASE WHEN p_end_at IS NOT NULL THEN ioc_wd_us(p.e - p.r - coalesce(s.ext, 0)) END,
           CASE WHEN p_end_at IS NOT NULL THEN ioc_wd_us(p.du - p.r) END
      FROM (SELECT (SELECT ioc_cal_pos(c, p_received_at) FROM calendar_days c
                     WHERE c.day = ioc_local_day(p_received_at)) AS r,
                   (SELECT ioc_cal_pos(c, p_due_at) FROM calendar_days c
                     WHERE c.day = ioc_local_day(p_due_at)) AS du,
                   (SELECT ioc_cal_pos(c, p_end_at) FROM calendar_days c
                     WHERE c.day = ioc_local_day(p_end_at)) AS e,
                   (SELECT count(*)::integer FROM dossier_supplements s
                     WHERE s.code = p_code) AS n_all
            OFFSET 0) p
      LEFT JOIN LATERAL (SELECT x.n, x.ext
                           FROM ioc_dossier_supplement_time(p_code, p_end_at, p.e) x
                          WHERE p.n_all > 0 AND p_end_at IS NOT NULL) s ON true
$$;

CREATE OR REPLACE FUNCTION ioc_supplement_positions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT (SELECT ioc_cal_pos(c, NEW.requested_at) FROM calendar_days c
             WHERE c.day = ioc_local_day(NEW.requested_at)),
           (SELECT ioc_cal_pos(c, NEW.resumed_at) FROM calendar_days c
             WHERE c.day = ioc_local_day(NEW.resumed_at))
      INTO NEW.requested_pos, NEW.resumed_pos;
    RETURN NEW;
END $$;

-- Recomputed on every INSERT and UPDATE (an UPDATE that sets nothing else re-derives the row:
-- the calendar refresh and the supplement triggers use that). end_at is a generated column,
-- which a BEFORE trigger cannot read: the expression is 020's.
CREATE OR REPLACE FUNCTION ioc_dossier_derive() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    SELECT * INTO v FROM ioc_dossier_derived(NEW.code, NEW.received_at, NEW.due_at,
        coalesce(NEW.finished_at, NEW.returned_at,
                 CASE WHEN NEW.status IN (3, 8) THEN NEW.updated_at END));
    NEW.received_pos := v.received_pos;
    NEW.due_pos := v.due_pos;
    NEW.end_pos := v.end_pos;
    NEW.supplement_requests := v.supplement_requests;
    NEW.end_class := v.end_class;
    NEW.processing_us := v.processing_us;
    NEW.allowed_us := v.allowed_us;
    RETURN NEW;
END $$;

-- Supplement rows changed (the upsert rewrites them after their dossier; anything else may too):
-- re-derive their dossiers.
CREATE OR REPLACE FUNCTION ioc_supplements_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE dossiers d SET supplement_requests = 0 WHERE d.supplement_requests > 0;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE dossiers d SET supplement_requests = 0
         WHERE d.code IN (SELECT o.code FROM old_rows o);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE dossiers d SET supplement_requests = 0
         WHERE d.code IN (SELECT n.code FROM new_rows n);
    END IF;
    RETURN NULL;
END $$;

-- Fill existing rows (before the triggers exist), set-wise: the supplement requests' positions
-- first, as the dossiers' derivation reads them. Row order does not matter: no stored value or
-- sum depends on it.
UPDATE dossier_supplements
   SET requested_pos = ioc_wd_pos(requested_at), resumed_pos = ioc_wd_pos(resumed_at);
UPDATE dossiers d
   SET (received_pos, due_pos, end_pos, supplement_requests, end_class, processing_us,
        allowed_us) =
       (SELECT x.received_pos, x.due_pos, x.end_pos, x.supplement_requests, x.end_class,
               x.processing_us, x.allowed_us
          FROM ioc_dossier_derived(d.code, d.received_at, d.due_at, d.end_at) x);

CREATE OR REPLACE TRIGGER dossier_supplements_positions
    BEFORE INSERT OR UPDATE ON dossier_supplements
    FOR EACH ROW EXECUTE FUNCTION ioc_supplement_positions();
CREATE OR REPLACE TRIGGER dossiers_derive BEFORE INSERT OR UPDATE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION ioc_dossier_derive();
CREATE OR REPLACE TRIGGER dossier_supplements_inserted AFTER INSERT ON dossier_supplements
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ioc_supplements_changed();
CREATE OR REPLACE TRIGGER dossier_supplements_updated AFTER UPDATE ON dossier_supplements
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ioc_supplements_changed();
CREATE OR REPLACE TRIGGER dossier_supplements_deleted AFTER DELETE ON dossier_supplements
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ioc_supplements_changed();
CREATE OR REPLACE TRIGGER dossier_supplements_truncated AFTER TRUNCATE ON dossier_supplements
    FOR EACH STATEMENT EXECUTE FUNCTION ioc_supplements_changed();

-- The finished dossiers of a window as an index-only scan for every KPI that reads them (2.1,
-- 5.4, the classes, 2.2 and the scores' pass over completed dossiers): only the rows they can
-- count (ended, not withdrawn, not synthetic; their queries imply the predicate).
CREATE INDEX IF NOT EXISTS dossiers_end_judged ON dossiers (end_at)
    INCLUDE (status, end_class, agency_code, procedure_code, level, processing_us, allowed_us,
             digitised, e_result)
    WHERE end_at IS NOT NULL AND status <> 7 AND NOT synthetic;
-- The open dossiers never ended, as they are judged at a window end (ioc_dossier_open_overdue).
CREATE INDEX IF NOT EXISTS dossiers_open_judged ON dossiers (received_at)
    INCLUDE (due_pos, supplement_requests, agency_code, procedure_code, level, code)
    WHERE end_at IS NULL AND status <> 7 AND NOT synthetic;

-- The rows a calendar change from a given day can move: those with an instant on or after it.
CREATE INDEX IF NOT EXISTS dossiers_last_instant
    ON dossiers ((greatest(received_at, due_at, end_at)));
CREATE INDEX IF NOT EXISTS dossier_supplements_last_instant
    ON dossier_supplements ((greatest(requested_at, resumed_at)));

-- ---------------------------------------------------------------------------------------------
-- Calendar changes. positions_working = the working flag the stored positions were computed
-- with: a day whose flag differs from it, or whose wd_index changes, moves the positions of every
-- instant from that day on.
ALTER TABLE calendar_days ADD COLUMN IF NOT EXISTS positions_working boolean;
UPDATE calendar_days SET positions_working = working;

-- Recompute the stored positions (and what depends on them) of every dossier and supplement
-- request with an instant on or after local day p_day. Locks out concurrent writers of dossiers
-- first, so a row written with the old calendar cannot commit after the refresh. Returns the
-- number of dossiers re-derived.
CREATE OR REPLACE FUNCTION ioc_positions_refresh(p_day date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    since timestamptz := p_day::timestamp AT TIME ZONE interval '07:00';
    n bigint;
BEGIN
    LOCK TABLE dossiers, dossier_supplements IN SHARE ROW EXCLUSIVE MODE;
    UPDATE dossier_supplements SET requested_pos = NULL       -- the trigger recomputes both
     WHERE greatest(requested_at, resumed_at) >= since;
    UPDATE dossiers SET supplement_requests = 0               -- the trigger re-derives the row
     WHERE greatest(received_at, due_at, end_at) >= since;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Recompute wd_index after any change to `working` (sync_calendar calls it), then refresh the
-- stored positions from the first day that changed.
CREATE OR REPLACE FUNCTION ioc_calendar_reindex() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first_day date;
BEGIN
    WITH x AS (
        SELECT day, (coalesce(sum(working::int) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED
                      PRECEDING AND 1 PRECEDING), 0))::int AS idx
          FROM calendar_days),
    changed AS (
        UPDATE calendar_days c SET wd_index = x.idx, positions_working = c.working
          FROM x
         WHERE c.day = x.day
           AND (c.wd_index IS DISTINCT FROM x.idx OR c.positions_working IS DISTINCT FROM c.working)
        RETURNING c.day)
    SELECT min(day) INTO first_day FROM changed;
    IF first_day IS NOT NULL THEN
        PERFORM ioc_positions_refresh(first_day);
    END IF;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Readers: the 021 views with the stored positions (same columns).
CREATE OR REPLACE VIEW dossier_facts AS
SELECT d.code, d.procedure_code, d.agency_code, d.channel, d.level, d.status, d.received_at,
       d.due_at, d.end_at, d.finished_at, d.returned_at, d.fee, d.paid_online, d.payment_ref,
       d.digitised, d.e_result, d.synced_national, d.received_pos, d.due_pos, d.end_pos
  FROM dossiers d
 WHERE NOT d.synthetic;

CREATE OR REPLACE VIEW dossier_supplement_facts AS
SELECT s.code, s.seq, s.requested_at, s.resumed_at, s.requested_pos, s.resumed_pos
  FROM dossier_supplements s;

-- The 766 timeliness of every dossier counted for [from, to) (rules: docs/KPI.md), with what the
-- scores also need (class: ioc_766_class codes). Finished dossiers (end in the window) carry
-- their stored judgement. Open ones (received before `to`, not ended by it: the partial index
-- dossiers_open and dossiers_end) are judged at `to`; only those with supplement requests read
-- them (a separate branch: a per-row test would cost every open dossier a join step). Withdrawn
-- (7) and synthetic dossiers are left out. Working times are integer microseconds (ioc_wd_us):
-- their sums do not depend on the order rows come in, so any plan (parallel too) gives the same.
CREATE OR REPLACE FUNCTION ioc_dossier_judged(p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb)
RETURNS TABLE (code text, agency_code text, procedure_code text, status smallint,
               finished boolean, class smallint, processing_us bigint, allowed_us bigint,
               digitised boolean, e_result boolean)
LANGUAGE sql STABLE AS $$
    SELECT d.code, d.agency_code, d.procedure_code, d.status, true, d.end_class,
           d.processing_us, d.allowed_us, d.digitised, d.e_result
      FROM dossiers d
     WHERE d.end_at >= p_from AND d.end_at < p_to AND d.status <> 7 AND NOT d.synthetic
       AND ioc_dossier_in(p_filter, d.agency_code, d.procedure_code, d.level)
    UNION ALL
    SELECT o.code, o.agency_code, o.procedure_code, o.status, false,
           ioc_766_class(false, 0, j.pos, o.due_pos + 0), ioc_wd_us(j.pos - o.received_pos - 0),
           ioc_wd_us(o.due_pos - o.received_pos), o.digitised, o.e_result
      FROM (SELECT ioc_wd_pos(p_to) AS pos OFFSET 0) j
     CROSS JOIN dossiers o
     WHERE o.received_at < p_to AND (o.end_at IS NULL OR o.end_at >= p_to) AND o.status <> 7
       AND NOT o.synthetic AND o.supplement_requests = 0
       AND ioc_dossier_in(p_filter, o.agency_code, o.procedure_code, o.level)
    UNION ALL
    SELECT o.code, o.agency_code, o.procedure_code, o.status, false,
           ioc_766_class(false, s.n, j.pos, o.due_pos + coalesce(s.ext, 0)),
           ioc_wd_us(j.pos - o.received_pos - coalesce(s.ext, 0)),
           ioc_wd_us(o.due_pos - o.received_pos), o.digitised, o.e_result
      FROM (SELECT ioc_wd_pos(p_to) AS pos OFFSET 0) j
     CROSS JOIN dossiers o
     CROSS JOIN LATERAL ioc_dossier_supplement_time(o.code, p_to, j.pos) s
     WHERE o.received_at < p_to AND (o.end_at IS NULL OR o.end_at >= p_to) AND o.status <> 7
       AND NOT o.synthetic AND o.supplement_requests > 0
       AND ioc_dossier_in(p_filter, o.agency_code, o.procedure_code, o.level)
$$;

CREATE OR REPLACE FUNCTION ioc_dossier_timeliness(p_from timestamptz, p_to timestamptz,
                                                  p_filter jsonb)
RETURNS TABLE (code text, agency_code text, procedure_code text, status smallint,
               finished boolean, klass text, processing_days double precision,
               allowed_days double precision) LANGUAGE sql STABLE AS $$
    SELECT j.code, j.agency_code, j.procedure_code, j.status, j.finished,
           ioc_766_class_name(j.class), j.processing_us / 86400e6::float8,
           j.allowed_us / 86400e6::float8
      FROM ioc_dossier_judged(p_from, p_to, p_filter) j
$$;

-- The dossiers open at `to` (received before it, not ended by it; not withdrawn or synthetic):
-- those never ended from the covering index dossiers_open_judged alone, the ones ended later
-- from dossiers_end.
CREATE OR REPLACE FUNCTION ioc_dossier_open(p_to timestamptz, p_filter jsonb)
RETURNS TABLE (code text, agency_code text, procedure_code text, due_pos double precision,
               supplement_requests integer) LANGUAGE sql STABLE AS $$
    SELECT d.code, d.agency_code, d.procedure_code, d.due_pos, d.supplement_requests
      FROM dossiers d
     WHERE d.end_at IS NULL AND d.received_at < p_to AND d.status <> 7 AND NOT d.synthetic
       AND ioc_dossier_in(p_filter, d.agency_code, d.procedure_code, d.level)
    UNION ALL
    SELECT d.code, d.agency_code, d.procedure_code, d.due_pos, d.supplement_requests
      FROM dossiers d
     WHERE d.end_at >= p_to AND d.received_at < p_to AND d.status <> 7 AND NOT d.synthetic
       AND ioc_dossier_in(p_filter, d.agency_code, d.procedure_code, d.level)
$$;

-- The open dossiers judged at `to` as ioc_dossier_judged's open branches judge them: overdue =
-- class 5. Only those with supplement requests read them (a join, planned for those rows only:
-- a per-row subquery would be costed for every open dossier and could bring in JIT).
CREATE OR REPLACE FUNCTION ioc_dossier_open_overdue(p_to timestamptz, p_filter jsonb)
RETURNS TABLE (agency_code text, procedure_code text, overdue boolean) LANGUAGE sql STABLE AS $$
    SELECT o.agency_code, o.procedure_code, coalesce(j.pos > o.due_pos, false)
      FROM (SELECT ioc_wd_pos(p_to) AS pos OFFSET 0) j, ioc_dossier_open(p_to, p_filter) o
     WHERE o.supplement_requests = 0
    UNION ALL
    SELECT o.agency_code, o.procedure_code,
           ioc_766_class(false, s.n, j.pos, o.due_pos + coalesce(s.ext, 0)) = 5
      FROM (SELECT ioc_wd_pos(p_to) AS pos OFFSET 0) j, ioc_dossier_open(p_to, p_filter) o
     CROSS JOIN LATERAL ioc_dossier_supplement_time(o.code, p_to, j.pos) s
     WHERE o.supplement_requests > 0
$$;

-- The dossiers judged for [from, to) counted per group (agency or procedure code, NULL for the
-- whole): total and n[class] (ioc_766_class codes), as ioc_dossier_judged's rows would count,
-- but each part aggregated from its own index scan (the finished ones from dossiers_end_judged
-- alone): no per-row union layers, and counts add in any order.
CREATE OR REPLACE FUNCTION ioc_dossier_class_counts(p_from timestamptz, p_to timestamptz,
                                                    p_filter jsonb, p_by text)
RETURNS TABLE (k text, total bigint, n bigint[]) LANGUAGE sql STABLE AS $$
    SELECT c.k, sum(c.total)::bigint,
           ARRAY[sum(c.n1), sum(c.n2), sum(c.n3), sum(c.n4), sum(c.n5)]::bigint[]
      FROM (SELECT CASE p_by WHEN 'agency' THEN d.agency_code
                             WHEN 'procedure' THEN d.procedure_code END AS k,
                   count(*) AS total, count(*) FILTER (WHERE d.end_class = 1) AS n1,
                   count(*) FILTER (WHERE d.end_class = 2) AS n2,
                   count(*) FILTER (WHERE d.end_class = 3) AS n3, 0::bigint AS n4, 0::bigint AS n5
              FROM dossiers d
             WHERE d.end_at >= p_from AND d.end_at < p_to AND d.status <> 7 AND NOT d.synthetic
               AND ioc_dossier_in(p_filter, d.agency_code, d.procedure_code, d.level)
             GROUP BY 1
            UNION ALL
            SELECT CASE p_by WHEN 'agency' THEN o.agency_code
                             WHEN 'procedure' THEN o.procedure_code END,
                   count(*), 0, 0, 0, count(*) FILTER (WHERE NOT o.overdue),
                   count(*) FILTER (WHERE o.overdue)
              FROM ioc_dossier_open_overdue(p_to, p_filter) o
             GROUP BY 1) c
     GROUP BY 1
$$;

-- 2.1 on-time rate, 5.4 satisfaction, the class counts, 2.2 mean processing time. Each KPI
-- aggregates only what it needs, grouped on the agency or procedure code (labels are built per
-- group, not per dossier); same expressions as 021 (good = early, on time, open within; bad =
-- late, open overdue). 2.2 reads only the completed dossiers (finished, status 9 or 10: the
-- index dossiers_end_judged alone) and sums their integer microseconds exactly: Σ ÷ 86400e6 is
-- the same whatever the plan or row order. A group without a completed dossier has no 2.2 row
-- (021 gave it a NULL value; the ungrouped KPI still answers NULL through ioc_kpi).
CREATE OR REPLACE FUNCTION ioc_kpi_timeliness(p_kpi text, p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    SELECT ioc_dossier_labels(p_by, a.k, a.k),
           CASE p_kpi WHEN '766.2.1' THEN a.good / a.total ELSE 1 - a.bad / a.total END,
           CASE p_kpi WHEN '766.2.1' THEN a.good ELSE a.total - a.bad END, a.total
      FROM (SELECT c.k, c.total::float8 AS total, (c.n[1] + c.n[2] + c.n[4])::float8 AS good,
                   (c.n[3] + c.n[5])::float8 AS bad
              FROM ioc_dossier_class_counts(p_from, p_to, p_filter, p_by) c
             WHERE p_kpi IN ('766.2.1', '766.5.4')) a
    UNION ALL
    SELECT ioc_dossier_labels(p_by, a.k, a.k), a.days / a.completed, a.days, a.completed
      FROM (SELECT CASE p_by WHEN 'agency' THEN d.agency_code
                             WHEN 'procedure' THEN d.procedure_code END AS k,
                   count(*)::float8 AS completed,
                   sum(d.processing_us)::float8 / 86400e6::float8 AS days
              FROM dossiers d
             WHERE p_kpi = '766.2.2' AND d.end_at >= p_from AND d.end_at < p_to
               AND d.status IN (9, 10) AND NOT d.synthetic
               AND ioc_dossier_in(p_filter, d.agency_code, d.procedure_code, d.level)
             GROUP BY 1) a
    UNION ALL
    SELECT ioc_dossier_labels(p_by, a.k, a.k)
               || jsonb_build_object('class', ioc_766_class_name(x.class)),
           a.n[x.class], a.n[x.class], a.total::float8
      FROM ioc_dossier_class_counts(p_from, p_to, p_filter, p_by) a
     CROSS JOIN generate_series(1, 5) AS x(class)
     WHERE p_kpi = 'dossiers.timeliness'
    ORDER BY 1
$$;

-- 766 scores in two passes: the dossiers judged for the window (finished ones counted as
-- ioc_dossier_class_counts does, with their completed subset for 2.2's scored rate, 4.1 and
-- 4.2, in one scan; open ones from ioc_dossier_open_overdue) and the dossiers received in it
-- (1.4, 3.3, 3.6). The rates are the expressions of ioc_kpi_timeliness, 028's 2.2 ratio (over
-- exact microsecond sums) and ioc_kpi_dossier_ratio (its ungrouped row: numerator ÷
-- nullif(denominator, 0), NULL without dossiers); tests/kpi check that each score row's rate
-- equals the KPI's value.
CREATE OR REPLACE FUNCTION ioc_kpi_766_scores(p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE plpgsql STABLE AS $$
DECLARE
    d kpi_definitions%ROWTYPE;
    rate double precision;
    r21 double precision;
    r54 double precision;
    r22 double precision;
    r41 double precision;
    r42 double precision;
    r14 double precision;
    r33 double precision;
    r36 double precision;
BEGIN
    EXECUTE 'SELECT (f.good + o.total - o.bad)::float8 / nullif(f.total + o.total, 0)::float8,
                    1 - (f.bad + o.bad)::float8 / nullif(f.total + o.total, 0)::float8,
                    f.p_us::float8 / nullif(f.a_us::float8, 0),
                    f.e::float8 / nullif(f.completed::float8, 0),
                    f.de::float8 / nullif(f.completed::float8, 0)
               FROM (SELECT count(*) AS total, count(*) FILTER (WHERE end_class IN (1, 2)) AS good,
                            count(*) FILTER (WHERE end_class = 3) AS bad,
                            count(*) FILTER (WHERE status IN (9, 10)) AS completed,
                            count(*) FILTER (WHERE status IN (9, 10) AND e_result) AS e,
                            count(*) FILTER (WHERE status IN (9, 10) AND digitised AND e_result)
                                AS de,
                            sum(processing_us) FILTER (WHERE status IN (9, 10)
                                                         AND allowed_us IS NOT NULL) AS p_us,
                            sum(allowed_us) FILTER (WHERE status IN (9, 10)) AS a_us
                       FROM dossiers
                      WHERE end_at >= $1 AND end_at < $2 AND status <> 7 AND NOT synthetic
                        AND ioc_dossier_in($3, agency_code, procedure_code, level)) f,
                    (SELECT count(*) AS total, count(*) FILTER (WHERE overdue) AS bad
                       FROM ioc_dossier_open_overdue($2, $3)) o'
       INTO r21, r54, r22, r41, r42 USING p_from, p_to, p_filter;
    EXECUTE 'SELECT count(*) FILTER (WHERE synced_national)::float8
                    / nullif(greatest(count(*), (SELECT sum(n.count)::float8 FROM national_counts n
                                                  WHERE n.day >= ioc_local_day($1)
                                                    AND n.day < ioc_local_day($2)
                                                    AND $3 - ''by'' = ''{}''::jsonb))::float8, 0),
                    count(*) FILTER (WHERE channel = 2)::float8 / nullif(count(*)::float8, 0),
                    count(*) FILTER (WHERE paid_online AND fee > 0)::float8
                    / nullif(count(*) FILTER (WHERE fee > 0)::float8, 0)
               FROM dossiers
              WHERE received_at >= $1 AND received_at < $2 AND NOT synthetic
                AND ioc_dossier_in($3, agency_code, procedure_code, level)'
       INTO r14, r33, r36 USING p_from, p_to, p_filter;
    FOR d IN SELECT * FROM kpi_definitions WHERE family = '766' AND max_score IS NOT NULL
              ORDER BY string_to_array(substr(id, 5), '.')::int[] LOOP
        CASE d.id
            WHEN '766.2.1' THEN rate := r21;
            WHEN '766.5.4' THEN rate := r54;
            WHEN '766.2.2' THEN rate := r22;
            WHEN '766.4.1' THEN rate := r41;
            WHEN '766.4.2' THEN rate := r42;
            WHEN '766.1.4' THEN rate := r14;
            WHEN '766.3.3' THEN rate := r33;
            WHEN '766.3.6' THEN rate := r36;
            ELSE SELECT r.value INTO rate FROM ioc_kpi_rows(d.id, p_from, p_to, p_filter, 'all') r;
        END CASE;
        labels := jsonb_build_object('indicator', substr(d.id, 5));
        value := ioc_766_score(rate, d.threshold, d.max_score, d.higher_is_better);
        numerator := rate;
        denominator := d.max_score;
        RETURN NEXT;
    END LOOP;
END $$;
