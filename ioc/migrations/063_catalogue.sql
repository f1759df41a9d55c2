-- The portal's reference catalogue: procedures (thủ tục hành chính) and agencies (cơ quan), so
-- readers can show "Sở Tư pháp" instead of "000.00.09.H99". Synced by `records` targets with
-- record_type procedures / agencies (GET /api/procedures, /api/agencies; docs/SIM_API.md).
-- A catalogue answer is the whole list: items are upserted, and nothing is deleted, so a
-- procedure withdrawn from the catalogue keeps its name for the dossiers that still cite it.

CREATE TABLE IF NOT EXISTS agencies (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    kind        text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS procedures (
    code           text PRIMARY KEY,
    name           text NOT NULL,
    agency_code    text,
    agency_kind    text,
    level          text,
    deadline_days  numeric,
    fee            numeric,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION ioc_upsert_agencies(p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM ioc_require_keys('agencies', p_items, ARRAY['code', 'name']);
    INSERT INTO agencies AS a (code, name, kind)
    SELECT DISTINCT ON (r.code) r.code, r.name, r.kind
      FROM jsonb_to_recordset(p_items) AS r(code text, name text, kind text)
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, updated_at = now()
     WHERE (a.name, a.kind) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION ioc_upsert_procedures(p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM ioc_require_keys('procedures', p_items, ARRAY['code', 'name']);
    INSERT INTO procedures AS p (code, name, agency_code, agency_kind, level, deadline_days, fee)
    SELECT DISTINCT ON (r.code) r.code, r.name, r.agency_code, r.agency_kind, r.level,
           r.deadline_days, r.fee
      FROM jsonb_to_recordset(p_items) AS r(code text, name text, agency_code text,
                                             agency_kind text, level text,
                                             deadline_days numeric, fee numeric)
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, agency_code = EXCLUDED.agency_code,
           agency_kind = EXCLUDED.agency_kind, level = EXCLUDED.level,
           deadline_days = EXCLUDED.deadline_days, fee = EXCLUDED.fee, updated_at = now()
     WHERE (p.name, p.agency_code, p.agency_kind, p.level, p.deadline_days, p.fee)
           IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.agency_code, EXCLUDED.agency_kind,
                             EXCLUDED.level, EXCLUDED.deadline_days, EXCLUDED.fee);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The records write path, with the two catalogue kinds added (same checks as 020).
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
        WHEN 'procedures' THEN n := ioc_upsert_procedures(p_items);
        WHEN 'agencies' THEN n := ioc_upsert_agencies(p_items);
        ELSE RAISE EXCEPTION 'ioc_upsert_records: unknown kind %; use dossiers, transactions, '
                             'documents, recon_intermediary, recon_treasury, national_counts, '
                             'procedures or agencies', quote_literal(p_kind);
    END CASE;
    RETURN n;
END $$;

-- Display names for codes, falling back to the code itself when the catalogue has not been
-- synced (or does not know it), so a reader never shows an empty cell.
CREATE OR REPLACE FUNCTION ioc_agency_name(p_code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce((SELECT name FROM agencies WHERE code = p_code), p_code) $$;

CREATE OR REPLACE FUNCTION ioc_procedure_name(p_code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce((SELECT name FROM procedures WHERE code = p_code), p_code) $$;
