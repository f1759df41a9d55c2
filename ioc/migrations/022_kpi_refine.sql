-- Refinements of the KPI layer after 020/021 (CREATE OR REPLACE only).

-- ---------------------------------------------------------------------------------------------
-- Documents: signing, electronic receipt, national axis rates (received in the window) and the
-- documents open past their deadline at the window end (of those open with a deadline).
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
                    THEN x.received_at < p_to AND x.due_at IS NOT NULL
                         AND (x.handled_at IS NULL OR x.handled_at >= p_to)
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

UPDATE kpi_definitions
   SET formula = 'documents open at the window end with due_at before it (denominator: open documents with a deadline)'
 WHERE id = 'documents.overdue';
