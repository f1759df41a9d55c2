-- KPI speed (bench/bench_kpi.py, bench/RESULTS.md): same values to the last digit, less work.

-- The local-day fraction with date_part (float8) instead of extract (numeric since PostgreSQL
-- 14): both give the correctly rounded double of the exact interval in seconds, so the value is
-- bit-identical, at about half the cost; three positions per dossier made it a large share of
-- the on-time rules.
CREATE OR REPLACE FUNCTION ioc_day_frac(ts timestamptz) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_part('epoch', (ts AT TIME ZONE interval '07:00')
                             - date_trunc('day', ts AT TIME ZONE interval '07:00'))
          / 86400.0 $$;

-- The scores evaluated the on-time rules three times (2.1, 5.4 and 2.2's scored rate), each a
-- full pass over the month's dossiers; one pass now gives all three. The rates are the same
-- expressions as ioc_kpi_timeliness (2.1 good ÷ total, 5.4 1 − bad ÷ total, NULL without
-- dossiers) and the former 2.2 query (Σ processing ÷ Σ allowed of completed dossiers).
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
BEGIN
    EXECUTE 'SELECT CASE WHEN count(*) > 0 THEN
                    count(*) FILTER (WHERE klass IN (''early'', ''on_time'', ''open_within''))::float8
                    / count(*)::float8 END,
                    CASE WHEN count(*) > 0 THEN
                    1 - count(*) FILTER (WHERE klass IN (''late'', ''open_overdue''))::float8
                        / count(*)::float8 END,
                    sum(processing_days) FILTER (WHERE finished AND status IN (9, 10)
                                                   AND allowed_days IS NOT NULL)
                    / nullif(sum(allowed_days) FILTER (WHERE finished AND status IN (9, 10)
                                                         AND allowed_days IS NOT NULL), 0)
               FROM ioc_dossier_timeliness($1, $2, $3)'
       INTO r21, r54, r22 USING p_from, p_to, p_filter;
    FOR d IN SELECT * FROM kpi_definitions WHERE family = '766' AND max_score IS NOT NULL
              ORDER BY string_to_array(substr(id, 5), '.')::int[] LOOP
        CASE d.id
            WHEN '766.2.1' THEN rate := r21;
            WHEN '766.5.4' THEN rate := r54;
            WHEN '766.2.2' THEN rate := r22;
            ELSE SELECT r.value INTO rate FROM ioc_kpi_rows(d.id, p_from, p_to, p_filter, 'all') r;
        END CASE;
        labels := jsonb_build_object('indicator', substr(d.id, 5));
        value := ioc_766_score(rate, d.threshold, d.max_score, d.higher_is_better);
        numerator := rate;
        denominator := d.max_score;
        RETURN NEXT;
    END LOOP;
END $$;

-- The dossier grouping labels were declared IMMUTABLE around jsonb_build_object, which is only
-- STABLE: PostgreSQL then refuses to inline the function and calls it once per dossier (about a
-- third of 3.3/4.1 and a sixth of 2.1 over a month). STABLE lets it inline, and the ungrouped
-- case folds to the constant '{}'. Same body, same labels.
CREATE OR REPLACE FUNCTION ioc_dossier_labels(p_by text, p_agency text, p_procedure text)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE p_by WHEN 'agency' THEN jsonb_build_object('agency', p_agency)
                     WHEN 'procedure' THEN jsonb_build_object('procedure', p_procedure)
                     ELSE '{}'::jsonb END
$$;
