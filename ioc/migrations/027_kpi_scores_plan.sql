-- 2.2's scored rate through EXECUTE: a SQL function's body is planned with its parameters
-- unknown, so ioc_766_time_ratio ran the on-time rules with a generic plan (minutes on a month
-- of dossiers); EXECUTE plans the inlined query with the window.
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
            EXECUTE 'SELECT sum(processing_days) / nullif(sum(allowed_days), 0)
                       FROM ioc_dossier_timeliness($1, $2, $3)
                      WHERE finished AND status IN (9, 10) AND allowed_days IS NOT NULL'
               INTO rate USING p_from, p_to, p_filter;
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
