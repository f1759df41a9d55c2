-- Dossier working-time positions stored at upsert (bench/bench_kpi.py: the 766 on-time rules
-- recomputed three calendar look-ups per dossier per read, ~1.2 s a month). Same values to the
-- last digit: every stored number is the expression 021 computed at read time, and the reads
-- keep the order in which rows reach the sums (the finished dossiers first, as the table is
-- scanned for the window, as before).
--
-- Stored, kept by triggers (so the collectors' upsert and any direct INSERT/UPDATE agree):
--   dossiers: received_pos, due_pos, end_pos (ioc_wd_pos of received_at, due_at, end_at);
--     supplement_requests (its rows in dossier_supplements); for a finished dossier (end_at set)
--     its 766 judgement at the end time, which no window changes: end_class (1 early, 2 on time,
--     3 late) and processing_days (end − received − supplement time, working days).
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
    ADD COLUMN IF NOT EXISTS processing_days double precision;

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

-- Every derived column of a dossier (received at, due at, ending at p_end_at): positions are
-- ioc_cal_pos of the instant's calendar row, the expression of ioc_wd_pos and of the 021 views;
-- a finished dossier is judged at its end time as 021 did. One query, for the trigger and the
-- fill below.
CREATE OR REPLACE FUNCTION ioc_dossier_derived(p_code text, p_received_at timestamptz,
                                               p_due_at timestamptz, p_end_at timestamptz)
RETURNS TABLE (received_pos double precision, due_pos double precision,
               end_pos double precision, supplement_requests integer, end_class smallint,
               processing_days double precision) LANGUAGE sql STABLE AS $$
    SELECT p.r, p.du, p.e, p.n_all,
           CASE WHEN p_end_at IS NOT NULL
                THEN ioc_766_class(true, coalesce(s.n, 0), p.e, p.du + coalesce(s.ext, 0)) END,
           CASE WHEN p_end_at IS NOT NULL THEN p.e - p.r - coalesce(s.ext, 0) END
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
    NEW.processing_days := v.processing_days;
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

-- Fill existing rows, keeping each table's physical order: 2.2's floating-point sums add the
-- finished dossiers in the order they are read, so a reordered table could change their last
-- digits. The supplements are rewritten in place (ALTER ... TYPE ... USING rewrites a table in
-- order). The dossiers need the derivation above, too slow per row for USING (about 0.3 ms):
-- an UPDATE fills them set-wise, carrying each row's former place in received_pos; CLUSTER on
-- it puts the rows back in their former order, and a last rewrite sets received_pos.
ALTER TABLE dossier_supplements
    ALTER COLUMN requested_pos TYPE double precision USING ioc_wd_pos(requested_at),
    ALTER COLUMN resumed_pos TYPE double precision USING ioc_wd_pos(resumed_at);
UPDATE dossiers d
   SET (due_pos, end_pos, supplement_requests, end_class, processing_days) =
       (SELECT x.due_pos, x.end_pos, x.supplement_requests, x.end_class, x.processing_days
          FROM ioc_dossier_derived(d.code, d.received_at, d.due_at, d.end_at) x),
       received_pos = (d.ctid::text::point)[0] * 65536 + (d.ctid::text::point)[1];
CREATE INDEX dossiers_former_order ON dossiers (received_pos);
CLUSTER dossiers USING dossiers_former_order;
DROP INDEX dossiers_former_order;
ALTER TABLE dossiers ALTER COLUMN received_pos TYPE double precision
    USING ioc_wd_pos(received_at);

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

-- The finished dossiers of a window as an index-only scan for the KPIs that count them (2.1,
-- 5.4, the classes); 2.2 needs processing_days from the table, read as before.
CREATE INDEX IF NOT EXISTS dossiers_end_judged ON dossiers (end_at)
    INCLUDE (status, synthetic, end_class, agency_code, procedure_code, level);

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
-- (7) and synthetic dossiers are left out. Finished rows come first, in the order the table is
-- read, as in 021: the order in which 2.2's floating-point sum adds them.
CREATE OR REPLACE FUNCTION ioc_dossier_judged(p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb)
RETURNS TABLE (code text, agency_code text, procedure_code text, status smallint,
               finished boolean, class smallint, processing_days double precision,
               allowed_days double precision, digitised boolean, e_result boolean)
LANGUAGE sql STABLE AS $$
    SELECT d.code, d.agency_code, d.procedure_code, d.status, true, d.end_class,
           d.processing_days, d.due_pos - d.received_pos, d.digitised, d.e_result
      FROM dossiers d
     WHERE d.end_at >= p_from AND d.end_at < p_to AND d.status <> 7 AND NOT d.synthetic
       AND ioc_dossier_in(p_filter, d.agency_code, d.procedure_code, d.level)
    UNION ALL
    SELECT o.code, o.agency_code, o.procedure_code, o.status, false,
           ioc_766_class(false, 0, j.pos, o.due_pos + 0), j.pos - o.received_pos - 0,
           o.due_pos - o.received_pos, o.digitised, o.e_result
      FROM (SELECT ioc_wd_pos(p_to) AS pos OFFSET 0) j
     CROSS JOIN dossiers o
     WHERE o.received_at < p_to AND (o.end_at IS NULL OR o.end_at >= p_to) AND o.status <> 7
       AND NOT o.synthetic AND o.supplement_requests = 0
       AND ioc_dossier_in(p_filter, o.agency_code, o.procedure_code, o.level)
    UNION ALL
    SELECT o.code, o.agency_code, o.procedure_code, o.status, false,
           ioc_766_class(false, s.n, j.pos, o.due_pos + coalesce(s.ext, 0)),
           j.pos - o.received_pos - coalesce(s.ext, 0), o.due_pos - o.received_pos,
           o.digitised, o.e_result
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
           ioc_766_class_name(j.class), j.processing_days, j.allowed_days
      FROM ioc_dossier_judged(p_from, p_to, p_filter) j
$$;

-- 2.1 on-time rate, 5.4 satisfaction, the class counts, 2.2 mean processing time. Each KPI
-- aggregates only what it needs, grouped on the agency or procedure code (labels are built per
-- group, not per dossier); same expressions as 021 (good = early, on time, open within; bad =
-- late, open overdue).
CREATE OR REPLACE FUNCTION ioc_kpi_timeliness(p_kpi text, p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    SELECT ioc_dossier_labels(p_by, a.k, a.k), a.good / a.total, a.good, a.total
      FROM (SELECT CASE p_by WHEN 'agency' THEN t.agency_code
                             WHEN 'procedure' THEN t.procedure_code END AS k,
                   count(*)::float8 AS total,
                   count(*) FILTER (WHERE t.class IN (1, 2, 4))::float8 AS good
              FROM ioc_dossier_judged(p_from, p_to, p_filter) t
             WHERE p_kpi = '766.2.1'
             GROUP BY 1) a
    UNION ALL
    SELECT ioc_dossier_labels(p_by, a.k, a.k), 1 - a.bad / a.total, a.total - a.bad, a.total
      FROM (SELECT CASE p_by WHEN 'agency' THEN t.agency_code
                             WHEN 'procedure' THEN t.procedure_code END AS k,
                   count(*)::float8 AS total,
                   count(*) FILTER (WHERE t.class IN (3, 5))::float8 AS bad
              FROM ioc_dossier_judged(p_from, p_to, p_filter) t
             WHERE p_kpi = '766.5.4'
             GROUP BY 1) a
    UNION ALL
    SELECT ioc_dossier_labels(p_by, a.k, a.k), a.days / nullif(a.completed, 0), a.days,
           a.completed
      FROM (SELECT CASE p_by WHEN 'agency' THEN t.agency_code
                             WHEN 'procedure' THEN t.procedure_code END AS k,
                   count(*) FILTER (WHERE t.finished AND t.status IN (9, 10))::float8
                       AS completed,
                   sum(t.processing_days) FILTER (WHERE t.finished AND t.status IN (9, 10))
                       AS days
              FROM ioc_dossier_judged(p_from, p_to, p_filter) t
             WHERE p_kpi = '766.2.2'
             GROUP BY 1) a
    UNION ALL
    SELECT ioc_dossier_labels(p_by, a.k, a.k)
               || jsonb_build_object('class', ioc_766_class_name(c.class)),
           a.n[c.class], a.n[c.class], a.total
      FROM (SELECT CASE p_by WHEN 'agency' THEN t.agency_code
                             WHEN 'procedure' THEN t.procedure_code END AS k,
                   count(*)::float8 AS total,
                   ARRAY[count(*) FILTER (WHERE t.class = 1), count(*) FILTER (WHERE t.class = 2),
                         count(*) FILTER (WHERE t.class = 3), count(*) FILTER (WHERE t.class = 4),
                         count(*) FILTER (WHERE t.class = 5)]::float8[] AS n
              FROM ioc_dossier_judged(p_from, p_to, p_filter) t
             WHERE p_kpi = 'dossiers.timeliness'
             GROUP BY 1) a
     CROSS JOIN generate_series(1, 5) AS c(class)
    ORDER BY 1
$$;

-- 766 scores in two passes: the dossiers judged for the window (2.1, 5.4, 2.2's scored rate, and
-- 4.1/4.2 over the completed ones) and the dossiers received in it (1.4, 3.3, 3.6). The rates
-- are the expressions of ioc_kpi_timeliness, 028's 2.2 ratio and ioc_kpi_dossier_ratio (its
-- ungrouped row: numerator ÷ nullif(denominator, 0), NULL without dossiers); tests/kpi check
-- that each score row's rate equals the KPI's value.
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
    EXECUTE 'SELECT CASE WHEN count(*) > 0 THEN
                    count(*) FILTER (WHERE class IN (1, 2, 4))::float8 / count(*)::float8 END,
                    CASE WHEN count(*) > 0 THEN
                    1 - count(*) FILTER (WHERE class IN (3, 5))::float8 / count(*)::float8 END,
                    sum(processing_days) FILTER (WHERE finished AND status IN (9, 10)
                                                   AND allowed_days IS NOT NULL)
                    / nullif(sum(allowed_days) FILTER (WHERE finished AND status IN (9, 10)
                                                         AND allowed_days IS NOT NULL), 0),
                    count(*) FILTER (WHERE finished AND status IN (9, 10) AND e_result)::float8
                    / nullif(count(*) FILTER (WHERE finished AND status IN (9, 10))::float8, 0),
                    count(*) FILTER (WHERE finished AND status IN (9, 10) AND digitised
                                       AND e_result)::float8
                    / nullif(count(*) FILTER (WHERE finished AND status IN (9, 10))::float8, 0)
               FROM ioc_dossier_judged($1, $2, $3)'
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
