-- KPI layer, business part: Decision 766 indicators, payments and reconciliation, documents,
-- throughput, 766 scores. Definitions and rules: docs/KPI.md.

-- Position of an instant on the working-time axis given the calendar row of its local date.
CREATE OR REPLACE FUNCTION ioc_cal_pos(c calendar_days, ts timestamptz) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT c.wd_index + CASE WHEN c.working THEN ioc_day_frac(ts) ELSE 0 END $$;

-- Real (non-synthetic) dossiers with their instants as working-time positions.
CREATE OR REPLACE VIEW dossier_facts AS
SELECT d.code, d.procedure_code, d.agency_code, d.channel, d.level, d.status, d.received_at,
       d.due_at, d.end_at, d.finished_at, d.returned_at, d.fee, d.paid_online, d.payment_ref,
       d.digitised, d.e_result, d.synced_national,
       ioc_cal_pos(cr, d.received_at) AS received_pos,
       ioc_cal_pos(cd, d.due_at) AS due_pos,
       ioc_cal_pos(ce, d.end_at) AS end_pos
  FROM dossiers d
  LEFT JOIN calendar_days cr ON cr.day = ioc_local_day(d.received_at)
  LEFT JOIN calendar_days cd ON cd.day = ioc_local_day(d.due_at)
  LEFT JOIN calendar_days ce ON ce.day = ioc_local_day(d.end_at)
 WHERE NOT d.synthetic;

CREATE OR REPLACE VIEW dossier_supplement_facts AS
SELECT s.code, s.seq, s.requested_at, s.resumed_at,
       ioc_cal_pos(cq, s.requested_at) AS requested_pos,
       ioc_cal_pos(cr, s.resumed_at) AS resumed_pos
  FROM dossier_supplements s
  LEFT JOIN calendar_days cq ON cq.day = ioc_local_day(s.requested_at)
  LEFT JOIN calendar_days cr ON cr.day = ioc_local_day(s.resumed_at);

-- Does a dossier pass the filter (agency, procedure, level)?
CREATE OR REPLACE FUNCTION ioc_dossier_in(p_filter jsonb, p_agency text, p_procedure text,
                                          p_level text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (p_filter->>'agency' IS NULL OR p_agency = p_filter->>'agency')
       AND (p_filter->>'procedure' IS NULL OR p_procedure = p_filter->>'procedure')
       AND (p_filter->>'level' IS NULL OR p_level = p_filter->>'level')
$$;

CREATE OR REPLACE FUNCTION ioc_dossier_labels(p_by text, p_agency text, p_procedure text)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_by WHEN 'agency' THEN jsonb_build_object('agency', p_agency)
                     WHEN 'procedure' THEN jsonb_build_object('procedure', p_procedure)
                     ELSE '{}'::jsonb END
$$;

-- The 766 timeliness class of every dossier counted for [from, to):
--   finished (end time in the window): early | on_time | late, judged at the end time;
--   open (received before `to`, not ended by `to`): open_within | open_overdue, judged at `to`.
-- The deadline (due_at) is extended by the working time spent in supplement requests before the
-- judging instant; more than one supplement request is late. Withdrawn (7) dossiers are left out.
-- Also returns the working days of processing (end − received − supplement time).
CREATE OR REPLACE FUNCTION ioc_dossier_timeliness(p_from timestamptz, p_to timestamptz,
                                                  p_filter jsonb)
RETURNS TABLE (code text, agency_code text, procedure_code text, status smallint,
               finished boolean, klass text, processing_days double precision,
               allowed_days double precision) LANGUAGE sql STABLE AS $$
    WITH tp AS (SELECT ioc_wd_pos(p_to) AS pos),
    scope AS (
        SELECT f.*, true AS finished, f.end_at AS judge_at, f.end_pos AS judge_pos
          FROM dossier_facts f
         WHERE f.end_at >= p_from AND f.end_at < p_to AND f.status <> 7
           AND ioc_dossier_in(p_filter, f.agency_code, f.procedure_code, f.level)
        UNION ALL
        SELECT f.*, false, p_to, tp.pos
          FROM dossier_facts f, tp
         WHERE f.received_at < p_to AND (f.end_at IS NULL OR f.end_at >= p_to) AND f.status <> 7
           AND ioc_dossier_in(p_filter, f.agency_code, f.procedure_code, f.level)),
    sup AS (
        SELECT sc.code, count(*) AS n,
               sum(greatest(0, least(coalesce(s.resumed_pos, sc.judge_pos), sc.judge_pos)
                               - s.requested_pos)) AS ext
          FROM scope sc JOIN dossier_supplement_facts s
            ON s.code = sc.code AND s.requested_at < sc.judge_at
         GROUP BY sc.code),
    judged AS (
        SELECT sc.*, coalesce(sup.n, 0) AS n_supp, coalesce(sup.ext, 0) AS ext,
               sc.due_pos + coalesce(sup.ext, 0) AS due_eff
          FROM scope sc LEFT JOIN sup ON sup.code = sc.code)
    SELECT j.code, j.agency_code, j.procedure_code, j.status, j.finished,
           CASE WHEN j.finished THEN
                CASE WHEN j.n_supp > 1 OR j.judge_pos > j.due_eff THEN 'late'
                     WHEN floor(j.judge_pos) < floor(j.due_eff) THEN 'early'
                     ELSE 'on_time' END
           ELSE CASE WHEN j.n_supp > 1 OR j.judge_pos > j.due_eff THEN 'open_overdue'
                     ELSE 'open_within' END
           END,
           j.judge_pos - j.received_pos - j.ext,
           j.due_pos - j.received_pos
      FROM judged j
$$;

-- 2.1 on-time rate, 5.4 satisfaction, the class counts, 2.2 mean processing time.
CREATE OR REPLACE FUNCTION ioc_kpi_timeliness(p_kpi text, p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH t AS (SELECT ioc_dossier_labels(p_by, x.agency_code, x.procedure_code) AS g, x.*
                 FROM ioc_dossier_timeliness(p_from, p_to, p_filter) x),
    agg AS (
        SELECT g, count(*)::float8 AS total,
               count(*) FILTER (WHERE klass IN ('early', 'on_time', 'open_within'))::float8 AS good,
               count(*) FILTER (WHERE klass IN ('late', 'open_overdue'))::float8 AS bad,
               count(*) FILTER (WHERE finished AND status IN (9, 10))::float8 AS completed,
               sum(processing_days) FILTER (WHERE finished AND status IN (9, 10)) AS days
          FROM t GROUP BY g),
    cnt AS (SELECT g, klass, count(*)::float8 AS n FROM t GROUP BY g, klass),
    classes AS (
        SELECT a.g || jsonb_build_object('class', k.k) AS g, coalesce(c.n, 0) AS n, a.total
          FROM agg a
         CROSS JOIN unnest(ARRAY['early', 'on_time', 'late', 'open_within', 'open_overdue']) AS k(k)
          LEFT JOIN cnt c ON c.g = a.g AND c.klass = k.k)
    SELECT g, good / total, good, total FROM agg WHERE p_kpi = '766.2.1'
    UNION ALL
    SELECT g, 1 - bad / total, total - bad, total FROM agg WHERE p_kpi = '766.5.4'
    UNION ALL
    SELECT g, days / nullif(completed, 0), days, completed FROM agg WHERE p_kpi = '766.2.2'
    UNION ALL
    SELECT c.g, c.n, c.n, c.total FROM classes c WHERE p_kpi = 'dossiers.timeliness'
    ORDER BY 1
$$;

-- Dossier ratios: 3.3 and 3.6 over dossiers received in the window; 4.1 and 4.2 over dossiers
-- completed (done or returned) in the window; 1.4 over received, against the national count.
CREATE OR REPLACE FUNCTION ioc_kpi_dossier_ratio(p_kpi text, p_from timestamptz,
                                                 p_to timestamptz, p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH rec AS (
        SELECT ioc_dossier_labels(p_by, f.agency_code, f.procedure_code) AS g, f.*
          FROM dossier_facts f
         WHERE f.received_at >= p_from AND f.received_at < p_to
           AND p_kpi IN ('766.1.4', '766.3.3', '766.3.6', 'dossiers.received')
           AND ioc_dossier_in(p_filter, f.agency_code, f.procedure_code, f.level)),
    done AS (
        SELECT ioc_dossier_labels(p_by, f.agency_code, f.procedure_code) AS g, f.*
          FROM dossier_facts f
         WHERE f.end_at >= p_from AND f.end_at < p_to AND f.status IN (9, 10)
           AND p_kpi IN ('766.4.1', '766.4.2')
           AND ioc_dossier_in(p_filter, f.agency_code, f.procedure_code, f.level)),
    national AS (
        SELECT sum(n.count)::float8 AS n FROM national_counts n
         WHERE n.day >= ioc_local_day(p_from) AND n.day < ioc_local_day(p_to)
           AND p_by = 'all' AND p_filter - 'by' = '{}'::jsonb),
    nd AS (
        SELECT g,
               CASE p_kpi WHEN '766.1.4' THEN count(*) FILTER (WHERE synced_national)
                          WHEN '766.3.3' THEN count(*) FILTER (WHERE channel = 2)
                          WHEN '766.3.6' THEN count(*) FILTER (WHERE paid_online AND fee > 0)
                          ELSE count(*) END::float8 AS num,
               CASE p_kpi WHEN '766.1.4' THEN greatest(count(*), (SELECT n FROM national))
                          WHEN '766.3.6' THEN count(*) FILTER (WHERE fee > 0)
                          ELSE count(*) END::float8 AS den
          FROM rec GROUP BY g
        UNION ALL
        SELECT g,
               CASE p_kpi WHEN '766.4.1' THEN count(*) FILTER (WHERE e_result)
                          ELSE count(*) FILTER (WHERE digitised AND e_result) END::float8,
               count(*)::float8
          FROM done GROUP BY g)
    SELECT g, CASE WHEN p_kpi = 'dossiers.received' THEN num ELSE num / nullif(den, 0) END,
           num, den
      FROM nd ORDER BY g::text
$$;

-- ---------------------------------------------------------------------------------------------
-- Payments: success rate and settlement lag by intermediary.
CREATE OR REPLACE FUNCTION ioc_kpi_payments(p_kpi text, p_from timestamptz, p_to timestamptz,
                                            p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH tx AS (
        SELECT CASE p_by WHEN 'intermediary' THEN jsonb_build_object('intermediary', p.intermediary)
                         WHEN 'error_code' THEN jsonb_build_object('intermediary', p.intermediary,
                                                                   'error_code', p.error_code)
                         ELSE '{}'::jsonb END AS g, p.*,
               extract(epoch FROM coalesce(
                   (SELECT min(r.settled_at) FROM recon_rows r
                     WHERE r.ref = p.ref AND r.side = 'treasury'), p.settled_at) - p.created_at)
                   / 86400.0 AS lag_days
          FROM payment_transactions p
         WHERE NOT p.synthetic AND p.created_at >= p_from AND p.created_at < p_to
           AND (p_filter->>'intermediary' IS NULL OR p.intermediary = p_filter->>'intermediary'))
    SELECT g,
           CASE p_kpi WHEN 'payments.success_rate'
                          THEN count(*) FILTER (WHERE status = 'success')::float8
                               / nullif(count(*) FILTER (WHERE status <> 'pending'), 0)
                      WHEN 'payments.failures' THEN count(*) FILTER (WHERE status = 'failed')
                      ELSE avg(lag_days) FILTER (WHERE status = 'success') END,
           CASE p_kpi WHEN 'payments.success_rate' THEN count(*) FILTER (WHERE status = 'success')
                      WHEN 'payments.failures' THEN count(*) FILTER (WHERE status = 'failed')
                      ELSE sum(lag_days) FILTER (WHERE status = 'success') END::float8,
           CASE p_kpi WHEN 'payments.success_rate' THEN count(*) FILTER (WHERE status <> 'pending')
                      WHEN 'payments.failures' THEN count(*)
                      ELSE count(lag_days) FILTER (WHERE status = 'success') END::float8
      FROM tx
     WHERE p_kpi <> 'payments.failures' OR status = 'failed'
     GROUP BY g ORDER BY g::text
$$;

-- Reconciliation: every successful real transaction settled in the window whose T+1 files were
-- due by the window end, matched three ways (intermediary file, treasury statement, dossier).
-- kind NULL = matched, else the first break found.
CREATE OR REPLACE FUNCTION ioc_recon_status(p_from timestamptz, p_to timestamptz, p_filter jsonb)
RETURNS TABLE (ref text, intermediary text, amount numeric, settled_at timestamptz, kind text)
LANGUAGE sql STABLE AS $$
    WITH tx AS (
        SELECT p.*, coalesce(p.settled_at, p.created_at) AS at
          FROM payment_transactions p
         WHERE NOT p.synthetic AND p.status = 'success'
           AND coalesce(p.settled_at, p.created_at) >= p_from
           AND coalesce(p.settled_at, p.created_at) < p_to
           AND ioc_local_day(coalesce(p.settled_at, p.created_at)) < ioc_local_day(p_to)
           AND (p_filter->>'intermediary' IS NULL OR p.intermediary = p_filter->>'intermediary')),
    side AS (
        SELECT r.ref, r.side, count(*) AS n,
               bool_and(r.amount = tx.amount) AS amount_ok,
               bool_and(r.dossier_code IS NOT DISTINCT FROM tx.dossier_code
                        AND r.payment_request_code IS NOT DISTINCT FROM tx.payment_request_code)
                   AS codes_ok
          FROM recon_rows r JOIN tx ON tx.ref = r.ref
         GROUP BY r.ref, r.side)
    SELECT tx.ref, tx.intermediary, tx.amount, tx.at,
           CASE WHEN i.ref IS NULL THEN 'missing_intermediary'
                WHEN t.ref IS NULL THEN 'missing_treasury'
                WHEN i.n > 1 OR t.n > 1 THEN 'duplicate'
                WHEN NOT (i.amount_ok AND t.amount_ok) THEN 'amount_mismatch'
                WHEN NOT (i.codes_ok AND t.codes_ok) THEN 'code_mismatch'
                WHEN tx.dossier_code IS NOT NULL AND NOT EXISTS (
                         SELECT 1 FROM dossiers d WHERE d.code = tx.dossier_code
                            AND d.paid_online) THEN 'dossier_not_updated'
           END
      FROM tx
      LEFT JOIN side i ON i.ref = tx.ref AND i.side = 'intermediary'
      LEFT JOIN side t ON t.ref = tx.ref AND t.side = 'treasury'
$$;

CREATE OR REPLACE FUNCTION ioc_kpi_recon(p_kpi text, p_from timestamptz, p_to timestamptz,
                                         p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH s AS (
        SELECT CASE WHEN p_by = 'intermediary' THEN jsonb_build_object('intermediary', x.intermediary)
                    ELSE '{}'::jsonb END AS g, x.*,
               extract(epoch FROM p_to - x.settled_at) / 86400.0 AS age_days
          FROM ioc_recon_status(p_from, p_to, p_filter) x)
    SELECT g,
           CASE p_kpi WHEN 'recon.match_rate' THEN count(*) FILTER (WHERE kind IS NULL)::float8
                                                   / count(*)
                      WHEN 'recon.unmatched_amount'
                          THEN coalesce(sum(amount) FILTER (WHERE kind IS NOT NULL), 0)::float8
                      ELSE max(age_days) FILTER (WHERE kind IS NOT NULL) END,
           CASE p_kpi WHEN 'recon.match_rate' THEN count(*) FILTER (WHERE kind IS NULL)
                      WHEN 'recon.unmatched_amount'
                          THEN coalesce(sum(amount) FILTER (WHERE kind IS NOT NULL), 0)
                      ELSE sum(age_days) FILTER (WHERE kind IS NOT NULL) END::float8,
           CASE p_kpi WHEN 'recon.match_rate' THEN count(*)
                      ELSE count(*) FILTER (WHERE kind IS NOT NULL) END::float8
      FROM s WHERE p_kpi <> 'recon.open_breaks'
     GROUP BY g
    UNION ALL
    SELECT g || jsonb_build_object('kind', kind), count(*), count(*),
           (SELECT count(*) FROM s s2 WHERE s2.g = s.g)
      FROM s WHERE p_kpi = 'recon.open_breaks' AND kind IS NOT NULL
     GROUP BY g, kind
     ORDER BY 1
$$;

-- ---------------------------------------------------------------------------------------------
-- Documents: signing, electronic receipt, national axis rates (received in the window) and the
-- documents open past their deadline at the window end.
CREATE OR REPLACE FUNCTION ioc_kpi_documents(p_kpi text, p_from timestamptz, p_to timestamptz,
                                             p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH d AS (
        SELECT CASE WHEN p_by = 'agency' THEN jsonb_build_object('agency', x.agency_code)
                    ELSE '{}'::jsonb END AS g, x.*
          FROM documents x
         WHERE NOT x.synthetic
           AND (p_filter->>'agency' IS NULL OR x.agency_code = p_filter->>'agency')
           AND CASE WHEN p_kpi = 'documents.overdue'
                    THEN x.received_at < p_to AND (x.handled_at IS NULL OR x.handled_at >= p_to)
                    ELSE x.received_at >= p_from AND x.received_at < p_to END),
    nd AS (
        SELECT g,
               CASE p_kpi WHEN 'documents.signing_rate'
                              THEN count(*) FILTER (WHERE direction = 'out' AND signed)
                          WHEN 'documents.electronic_rate'
                              THEN count(*) FILTER (WHERE direction = 'in' AND electronic)
                          WHEN 'documents.national_axis_rate'
                              THEN count(*) FILTER (WHERE via_national_axis)
                          ELSE count(*) FILTER (WHERE due_at < p_to) END::float8 AS num,
               CASE p_kpi WHEN 'documents.signing_rate' THEN count(*) FILTER (WHERE direction = 'out')
                          WHEN 'documents.electronic_rate' THEN count(*) FILTER (WHERE direction = 'in')
                          ELSE count(*) END::float8 AS den
          FROM d GROUP BY g)
    SELECT g, CASE WHEN p_kpi = 'documents.overdue' THEN num ELSE num / nullif(den, 0) END, num, den
      FROM nd ORDER BY g::text
$$;

-- Throughput: business records per hour (portal: dossiers received; payments: transactions
-- created; documents: documents received), real records only.
CREATE OR REPLACE FUNCTION ioc_kpi_throughput(p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH c AS (
        SELECT 'portal' AS system, count(*) AS n FROM dossiers
         WHERE NOT synthetic AND received_at >= p_from AND received_at < p_to
        UNION ALL
        SELECT 'payments', count(*) FROM payment_transactions
         WHERE NOT synthetic AND created_at >= p_from AND created_at < p_to
        UNION ALL
        SELECT 'documents', count(*) FROM documents
         WHERE NOT synthetic AND received_at >= p_from AND received_at < p_to),
    h AS (SELECT extract(epoch FROM p_to - p_from) / 3600.0 AS hours)
    SELECT CASE WHEN p_by = 'system' THEN jsonb_build_object('system', c.system)
                ELSE '{}'::jsonb END AS g,
           sum(c.n) / h.hours, sum(c.n)::float8, h.hours
      FROM c, h
     WHERE p_filter->>'system' IS NULL OR c.system = p_filter->>'system'
     GROUP BY 1, h.hours ORDER BY 1::text
$$;

-- ---------------------------------------------------------------------------------------------
-- 766 scoring: max × min(1, rate ÷ threshold); for a lower-is-better rate (2.2's processing
-- time ÷ allowed time) max × min(1, threshold ÷ rate). NULL rate, NULL score.
CREATE OR REPLACE FUNCTION ioc_766_score(p_rate double precision, p_threshold double precision,
                                         p_max double precision, p_higher boolean)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_rate IS NULL OR p_threshold IS NULL OR p_max IS NULL THEN NULL
                WHEN p_higher THEN p_max * least(1.0, p_rate / p_threshold)
                WHEN p_rate <= 0 THEN p_max
                ELSE p_max * least(1.0, p_threshold / p_rate) END
$$;

-- 2.2's scored rate: working days of processing ÷ working days allowed, completed dossiers.
CREATE OR REPLACE FUNCTION ioc_766_time_ratio(p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb) RETURNS double precision
LANGUAGE sql STABLE AS $$
    SELECT sum(processing_days) / nullif(sum(allowed_days), 0)
      FROM ioc_dossier_timeliness(p_from, p_to, p_filter)
     WHERE finished AND status IN (9, 10) AND allowed_days IS NOT NULL
$$;

-- One row per 766 indicator: value = score, numerator = scored rate, denominator = max score.
CREATE OR REPLACE FUNCTION ioc_kpi_766_scores(p_from timestamptz, p_to timestamptz,
                                              p_filter jsonb)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE plpgsql STABLE AS $$
DECLARE
    d kpi_definitions%ROWTYPE;
    rate double precision;
BEGIN
    FOR d IN SELECT * FROM kpi_definitions WHERE family = '766' AND max_score IS NOT NULL
              ORDER BY string_to_array(substr(id, 5), '.')::int[] LOOP
        IF d.id = '766.2.2' THEN
            rate := ioc_766_time_ratio(p_from, p_to, p_filter);
        ELSE
            SELECT r.value INTO rate FROM ioc_kpi_rows(d.id, p_from, p_to, p_filter, 'all') r;
        END IF;
        labels := jsonb_build_object('indicator', substr(d.id, 5));
        value := ioc_766_score(rate, d.threshold, d.max_score, d.higher_is_better);
        numerator := rate;
        denominator := d.max_score;
        RETURN NEXT;
    END LOOP;
END $$;

-- Dispatch to the family function.
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
        WHEN p_kpi = 'throughput' THEN
            RETURN QUERY SELECT * FROM ioc_kpi_throughput(p_from, p_to, p_filter, p_by);
        WHEN p_kpi IN ('766.2.1', '766.2.2', '766.5.4', 'dossiers.timeliness') THEN
            RETURN QUERY SELECT * FROM ioc_kpi_timeliness(p_kpi, p_from, p_to, p_filter, p_by);
        WHEN p_kpi IN ('766.1.4', '766.3.3', '766.3.6', '766.4.1', '766.4.2',
                       'dossiers.received') THEN
            RETURN QUERY SELECT * FROM ioc_kpi_dossier_ratio(p_kpi, p_from, p_to, p_filter, p_by);
        WHEN p_kpi = 'score.decision766' THEN
            RETURN QUERY SELECT * FROM ioc_kpi_766_scores(p_from, p_to, p_filter);
        WHEN p_kpi LIKE 'payments.%' THEN
            RETURN QUERY SELECT * FROM ioc_kpi_payments(p_kpi, p_from, p_to, p_filter, p_by);
        WHEN p_kpi LIKE 'recon.%' THEN
            RETURN QUERY SELECT * FROM ioc_kpi_recon(p_kpi, p_from, p_to, p_filter, p_by);
        WHEN p_kpi LIKE 'documents.%' THEN
            RETURN QUERY SELECT * FROM ioc_kpi_documents(p_kpi, p_from, p_to, p_filter, p_by);
        ELSE
            RAISE EXCEPTION 'KPI % is catalogued but not computed', p_kpi;
    END CASE;
END $$;

-- The entry point: an ungrouped KPI with no data still answers one row with a NULL value.
CREATE OR REPLACE FUNCTION ioc_kpi(p_kpi text, p_from timestamptz, p_to timestamptz,
                                   p_filter jsonb DEFAULT '{}'::jsonb)
RETURNS TABLE (kpi text, labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE plpgsql STABLE AS $$
DECLARE
    f jsonb := coalesce(p_filter, '{}'::jsonb);
    grouping text := ioc_kpi_grouping(p_kpi, f);
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to <= p_from THEN
        RAISE EXCEPTION 'KPI window must have from < to, got [%, %)', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT p_kpi, r.labels, r.value, r.numerator, r.denominator
      FROM ioc_kpi_rows(p_kpi, p_from, p_to, f, grouping) AS r;
    IF NOT FOUND AND grouping = 'all' THEN
        RETURN QUERY SELECT p_kpi, '{}'::jsonb, NULL::float8, NULL::float8, NULL::float8;
    END IF;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Catalogue rows (docs/KPI.md is the prose). 766 max scores and thresholds are the project's
-- defaults [inferred]; the config may override target/threshold/max_score.
INSERT INTO kpi_definitions AS k (id, family, name_vi, name_en, unit, formula, source, rule,
                                  target, max_score, threshold, higher_is_better, group_by,
                                  filters) VALUES
('throughput', 'technical', 'Lưu lượng xử lý', 'Throughput', 'per_hour',
 'real records created in the window ÷ window hours (portal: dossiers received; payments: transactions; documents: documents received)',
 'dossiers, payment_transactions, documents', 'synthetic records never count',
 NULL, NULL, NULL, true, '{system,all}', '{system}'),
('766.1.4', '766', 'Tỷ lệ đồng bộ hồ sơ lên Cổng DVCQG', 'Dossier sync rate to the national portal', 'ratio',
 'dossiers received in the window synced to the national portal ÷ max(local count, national count)',
 'dossiers, national_counts', 'national count used only ungrouped and unfiltered, when fed',
 1.0, 2, 1.0, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('766.2.1', '766', 'Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn', 'On-time rate (early + on time)', 'ratio',
 '(finished early or on time + open within deadline) ÷ (finished + open); finished = end time in the window, open = received before and not ended by the window end',
 'dossiers, dossier_supplements, calendar_days',
 'end time = done, else returned, else stopped/rejected; deadline extended by working days in supplement; > 1 supplement = late; open judged at window end; withdrawn left out',
 0.98, 10, 0.98, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('766.2.2', '766', 'Thời gian giải quyết trung bình', 'Mean processing time', 'working_days',
 'Σ (end − received − supplement time) in working days ÷ dossiers completed (done/returned) in the window',
 'dossiers, dossier_supplements, calendar_days',
 'scored on Σ processing ÷ Σ allowed working days, lower is better',
 NULL, 4, 1.0, false, '{all,procedure,agency}', '{agency,procedure,level}'),
('766.3.3', '766', 'Tỷ lệ hồ sơ trực tuyến', 'Online dossier rate', 'ratio',
 'dossiers received online (channel 2) ÷ dossiers received in the window', 'dossiers',
 'synthetic dossiers never count', 0.5, 6, 0.5, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('766.3.6', '766', 'Tỷ lệ thanh toán trực tuyến', 'Online payment rate', 'ratio',
 'dossiers paid online ÷ dossiers with a non-zero fee, received in the window', 'dossiers',
 'fee > 0 only', 0.5, 4, 0.5, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('766.4.1', '766', 'Tỷ lệ cấp kết quả điện tử', 'Electronic result rate', 'ratio',
 'dossiers completed with an electronic result ÷ dossiers completed (done/returned) in the window',
 'dossiers', 'completed = status 9 or 10 with end time in the window',
 0.8, 6, 0.8, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('766.4.2', '766', 'Tỷ lệ số hóa hồ sơ', 'Digitisation rate', 'ratio',
 'dossiers completed with digitised components and an electronic result ÷ dossiers completed in the window',
 'dossiers', 'completed = status 9 or 10 with end time in the window',
 0.8, 6, 0.8, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('766.5.4', '766', 'Mức độ hài lòng về giải quyết hồ sơ', 'Satisfaction with dossier handling', 'ratio',
 '1 − (late rate + complaint rate); late rate = (late + open overdue) ÷ (finished + open) as in 2.1',
 'dossiers (2.1 classes)', 'no complaint feed: complaint rate 0',
 0.9, 8, 0.9, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('dossiers.timeliness', 'dossiers', 'Hồ sơ theo tình trạng hạn xử lý', 'Dossiers by timeliness class', 'count',
 'count per class early | on_time | late | open_within | open_overdue (labels.class), the 2.1 rules',
 'dossiers, dossier_supplements, calendar_days', 'as 766.2.1',
 NULL, NULL, NULL, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('dossiers.received', 'dossiers', 'Hồ sơ tiếp nhận', 'Dossiers received', 'count',
 'real dossiers received in the window', 'dossiers', 'synthetic dossiers never count',
 NULL, NULL, NULL, true, '{all,agency,procedure}', '{agency,procedure,level}'),
('score.decision766', '766', 'Điểm Bộ chỉ số 766', 'Decision 766 scores', 'score',
 'per indicator: max × min(1, rate ÷ threshold) (2.2: max × min(1, threshold ÷ rate)); numerator = rate, denominator = max',
 'the 766 KPIs', 'Decision 766/QĐ-TTg scoring as used by implementers',
 NULL, NULL, NULL, true, '{all}', '{agency,procedure,level}'),
('payments.success_rate', 'payments', 'Tỷ lệ giao dịch thành công', 'Payment success rate', 'ratio',
 'successful ÷ (successful + failed) real transactions created in the window', 'payment_transactions',
 'pending left out', 0.99, NULL, NULL, true, '{intermediary,all}', '{intermediary}'),
('payments.failures', 'payments', 'Giao dịch lỗi theo mã lỗi', 'Failed payments by error code', 'count',
 'failed real transactions created in the window', 'payment_transactions', 'labels carry error_code',
 NULL, NULL, NULL, false, '{error_code,intermediary,all}', '{intermediary}'),
('payments.settlement_lag', 'payments', 'Độ trễ quyết toán', 'Settlement lag', 'days',
 'mean (treasury settled_at, else transaction settled_at) − created_at of successful transactions created in the window',
 'payment_transactions, recon_rows', 'T+n in days', NULL, NULL, NULL, false, '{intermediary,all}', '{intermediary}'),
('recon.match_rate', 'payments', 'Tỷ lệ đối soát khớp', 'Reconciliation match rate', 'ratio',
 'successful transactions settled in the window (T+1 file due by its end) matched on ref, codes and amount in both files, dossier marked paid ÷ those transactions',
 'payment_transactions, recon_rows, dossiers', 'one row per side; duplicates and amount or code differences are breaks',
 1.0, NULL, NULL, true, '{all,intermediary}', '{intermediary}'),
('recon.open_breaks', 'payments', 'Chênh lệch đối soát chưa xử lý', 'Open reconciliation breaks', 'count',
 'unmatched transactions of the window at its end, per kind (labels.kind)', 'as recon.match_rate',
 'kinds: missing_intermediary, missing_treasury, duplicate, amount_mismatch, code_mismatch, dossier_not_updated',
 0, NULL, NULL, false, '{all,intermediary}', '{intermediary}'),
('recon.break_age', 'payments', 'Tuổi chênh lệch lâu nhất', 'Oldest open break age', 'days',
 'max (window end − settled_at) over open breaks; numerator ÷ denominator = mean age', 'as recon.match_rate',
 'age at the window end', NULL, NULL, NULL, false, '{all,intermediary}', '{intermediary}'),
('recon.unmatched_amount', 'payments', 'Số tiền chưa khớp', 'Unmatched amount', 'VND',
 'Σ amount of the open breaks', 'as recon.match_rate', 'VND', 0, NULL, NULL, false,
 '{all,intermediary}', '{intermediary}'),
('documents.signing_rate', 'documents', 'Tỷ lệ văn bản đi được ký số', 'Outgoing documents digitally signed', 'ratio',
 'outgoing signed ÷ outgoing, received in the window', 'documents', '[inferred]',
 0.95, NULL, NULL, true, '{all,agency}', '{agency}'),
('documents.electronic_rate', 'documents', 'Tỷ lệ văn bản đến điện tử', 'Incoming documents received electronically', 'ratio',
 'incoming electronic ÷ incoming, received in the window', 'documents', '[inferred]',
 0.95, NULL, NULL, true, '{all,agency}', '{agency}'),
('documents.national_axis_rate', 'documents', 'Tỷ lệ văn bản qua Trục liên thông', 'Documents via the national axis', 'ratio',
 'documents exchanged via the national axis ÷ documents, received in the window', 'documents', '[inferred]',
 NULL, NULL, NULL, true, '{all,agency}', '{agency}'),
('documents.overdue', 'documents', 'Văn bản quá hạn xử lý', 'Overdue documents', 'count',
 'documents open at the window end with due_at before it (denominator: open documents)', 'documents',
 'open = received before the end and not handled by it', 0, NULL, NULL, false, '{all,agency}', '{agency}')
ON CONFLICT (id) DO UPDATE SET family = EXCLUDED.family, name_vi = EXCLUDED.name_vi,
    name_en = EXCLUDED.name_en, unit = EXCLUDED.unit, formula = EXCLUDED.formula,
    source = EXCLUDED.source, rule = EXCLUDED.rule, target = EXCLUDED.target,
    max_score = EXCLUDED.max_score, threshold = EXCLUDED.threshold,
    higher_is_better = EXCLUDED.higher_is_better, group_by = EXCLUDED.group_by,
    filters = EXCLUDED.filters;
