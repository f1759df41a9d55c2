-- Reconciliation judged only on the daily files that have been received, and fast.
-- Definitions and the reasons for them: docs/KPI.md ("Payments and reconciliation").

-- ---------------------------------------------------------------------------------------------
-- Every daily (T+1) file received, empty ones included: an empty file is an answer ("no
-- transactions that day"), a file never received is not. `rows` = rows stored for it;
-- `received_at` = the last time it was stored, `first_received_at` = the first.
CREATE TABLE IF NOT EXISTS recon_files (
    side               text NOT NULL CHECK (side IN ('intermediary', 'treasury')),
    file_date          date NOT NULL,
    rows               integer NOT NULL CHECK (rows >= 0),
    received_at        timestamptz NOT NULL,
    first_received_at  timestamptz NOT NULL,
    PRIMARY KEY (side, file_date)
);

-- Files stored before this migration: the (side, file_date) pairs present in recon_rows (an
-- empty file stored before left no trace and cannot be recovered; the collector fetches it again
-- within its look-back).
INSERT INTO recon_files (side, file_date, rows, received_at, first_received_at)
SELECT side, file_date, count(*), max(ingested_at), min(ingested_at)
  FROM recon_rows
 GROUP BY side, file_date
ON CONFLICT (side, file_date) DO NOTHING;

-- The dossiers marked paid, for the "dossier not updated" check: a small index read as a whole
-- (index-only) instead of one probe of the dossiers table per transaction.
CREATE INDEX IF NOT EXISTS dossiers_paid_online ON dossiers (code) WHERE paid_online;

-- ---------------------------------------------------------------------------------------------
-- The collectors' write path for one daily file: its rows replace the stored ones (even when
-- there are none) and the file is recorded as received at `p_received_at`. Items need `ref`
-- and `amount`; their own `file_date`, if any, is ignored (the file fetched is the business
-- day). Returns the number of rows stored. Bad input raises and nothing is written.
CREATE OR REPLACE FUNCTION ioc_store_recon_file(p_side text, p_file_date date, p_items jsonb,
                                                p_received_at timestamptz DEFAULT now())
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF p_side IS NULL OR p_side NOT IN ('intermediary', 'treasury') THEN
        RAISE EXCEPTION 'ioc_store_recon_file: side must be intermediary or treasury, got %',
            coalesce(quote_literal(p_side), 'NULL');
    END IF;
    IF p_file_date IS NULL OR p_received_at IS NULL THEN
        RAISE EXCEPTION 'ioc_store_recon_file(%): the file date and the receipt time are required',
            p_side;
    END IF;
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' THEN
        RAISE EXCEPTION 'ioc_store_recon_file(%, %): items must be a JSON array, got %',
            p_side, p_file_date, coalesce(jsonb_typeof(p_items), 'NULL');
    END IF;
    PERFORM ioc_require_keys('recon_' || p_side, p_items, ARRAY['ref', 'amount']);
    -- A file fetched again unchanged (the usual case within the look-back) is only re-dated.
    IF (SELECT coalesce(jsonb_agg(jsonb_build_array(r.ref, r.dossier_code, r.payment_request_code,
                                                    r.amount, r.settled_at) ORDER BY r.n), '[]')
          FROM recon_rows r WHERE r.side = p_side AND r.file_date = p_file_date)
       IS DISTINCT FROM
       (SELECT coalesce(jsonb_agg(jsonb_build_array(r.ref, r.dossier_code, r.payment_request_code,
                                                    r.amount, r.settled_at) ORDER BY o.ord), '[]')
          FROM jsonb_array_elements(p_items) WITH ORDINALITY AS o(item, ord),
               jsonb_to_record(o.item) AS r(ref text, dossier_code text,
                                             payment_request_code text, amount numeric,
                                             settled_at timestamptz)) THEN
        DELETE FROM recon_rows WHERE side = p_side AND file_date = p_file_date;
        INSERT INTO recon_rows (side, file_date, n, ref, dossier_code, payment_request_code,
                                amount, settled_at)
        SELECT p_side, p_file_date, o.ord::int, r.ref, r.dossier_code, r.payment_request_code,
               r.amount, r.settled_at
          FROM jsonb_array_elements(p_items) WITH ORDINALITY AS o(item, ord),
               jsonb_to_record(o.item) AS r(ref text, dossier_code text, payment_request_code text,
                                             amount numeric, settled_at timestamptz);
    END IF;
    n := jsonb_array_length(p_items);
    INSERT INTO recon_files (side, file_date, rows, received_at, first_received_at)
    VALUES (p_side, p_file_date, n, p_received_at, p_received_at)
    ON CONFLICT (side, file_date) DO UPDATE
        SET rows = EXCLUDED.rows, received_at = EXCLUDED.received_at;
    RETURN n;
END $$;

-- ioc_upsert_records('recon_intermediary' | 'recon_treasury', items): items carry file_date;
-- each file they name is stored whole through ioc_store_recon_file (and so recorded received).
-- Same rows and numbering as before (n = position within its file in the call).
CREATE OR REPLACE FUNCTION ioc_upsert_recon(p_side text, p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer := 0;
    d date;
BEGIN
    PERFORM ioc_require_keys('recon_' || p_side, p_items, ARRAY['file_date', 'ref', 'amount']);
    FOR d IN SELECT DISTINCT (i->>'file_date')::date FROM jsonb_array_elements(p_items) AS i
              ORDER BY 1 LOOP
        n := n + ioc_store_recon_file(p_side, d, (
            SELECT jsonb_agg(o.item ORDER BY o.ord)
              FROM jsonb_array_elements(p_items) WITH ORDINALITY AS o(item, ord)
             WHERE (o.item->>'file_date')::date = d));
    END LOOP;
    RETURN n;
END $$;

-- ---------------------------------------------------------------------------------------------
-- 07:00 local on the n-th working day after business day `p_day`: n = 1 is when its files are
-- due (docs/SIM_API.md), n = 2 when a file not received is overdue (one working day of grace).
-- NULL beyond the calendar.
CREATE OR REPLACE FUNCTION ioc_recon_due_at(p_day date, p_nth integer DEFAULT 1)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (c.day + time '07:00') AT TIME ZONE interval '07:00'
      FROM calendar_days c
     WHERE c.day > p_day AND c.working
     ORDER BY c.day OFFSET greatest(p_nth, 1) - 1 LIMIT 1
$$;

-- ---------------------------------------------------------------------------------------------
-- How a transaction's rows in the daily files compare with it: 'ok' (exactly one row on each
-- side, same amount, dossier code and payment-request code), else the first break found:
-- missing_intermediary, missing_treasury, duplicate, amount_mismatch, code_mismatch. Rows are
-- looked for by ref in the files from the day before its business day (local creation date) on:
-- one day of slack for the sources' cut-off clocks.
CREATE OR REPLACE FUNCTION ioc_recon_match(p_ref text, p_amount numeric, p_dossier_code text,
                                           p_request_code text, p_created_at timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN s.ni = 0 THEN 'missing_intermediary'
                WHEN s.nt = 0 THEN 'missing_treasury'
                WHEN s.ni > 1 OR s.nt > 1 THEN 'duplicate'
                WHEN NOT s.amount_ok THEN 'amount_mismatch'
                WHEN NOT s.codes_ok THEN 'code_mismatch'
                ELSE 'ok' END
      FROM (SELECT count(*) FILTER (WHERE r.side = 'intermediary') AS ni,
                   count(*) FILTER (WHERE r.side = 'treasury') AS nt,
                   bool_and(r.amount = p_amount) AS amount_ok,
                   bool_and(r.dossier_code IS NOT DISTINCT FROM p_dossier_code
                            AND r.payment_request_code IS NOT DISTINCT FROM p_request_code)
                       AS codes_ok
              FROM recon_rows r
             WHERE r.ref = p_ref AND r.file_date >= ioc_local_day(p_created_at) - 1) s
$$;

-- The match is kept on the transaction, so a KPI over a month reads the month's transactions
-- and nothing else (joining and grouping ~60,000 file rows per read cost ~75 ms on the bench
-- machine, over the 100 ms goal with the rest). Kept current by triggers on both tables, so
-- every writer (the collectors' functions, a bulk INSERT) keeps it right.
ALTER TABLE payment_transactions ADD COLUMN IF NOT EXISTS recon_match text;

CREATE OR REPLACE FUNCTION ioc_tx_recon_match() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.recon_match := ioc_recon_match(NEW.ref, NEW.amount, NEW.dossier_code,
                                       NEW.payment_request_code, NEW.created_at);
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS payment_transactions_recon_match ON payment_transactions;
CREATE TRIGGER payment_transactions_recon_match
    BEFORE INSERT OR UPDATE OF ref, amount, dossier_code, payment_request_code, created_at
    ON payment_transactions FOR EACH ROW EXECUTE FUNCTION ioc_tx_recon_match();

-- Recompute the transactions named by the rows a statement on recon_rows touched (all of them
-- after a TRUNCATE).
CREATE OR REPLACE FUNCTION ioc_recon_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    refs text[];
BEGIN
    CASE TG_OP
        WHEN 'INSERT' THEN SELECT array_agg(DISTINCT ref) INTO refs FROM new_rows;
        WHEN 'DELETE' THEN SELECT array_agg(DISTINCT ref) INTO refs FROM old_rows;
        WHEN 'UPDATE' THEN
            SELECT array_agg(DISTINCT ref) INTO refs
              FROM (SELECT ref FROM old_rows UNION ALL SELECT ref FROM new_rows) x;
        ELSE NULL;   -- TRUNCATE: every transaction
    END CASE;
    UPDATE payment_transactions p SET recon_match = m.kind
      FROM (SELECT t.ref, ioc_recon_match(t.ref, t.amount, t.dossier_code,
                                          t.payment_request_code, t.created_at) AS kind
              FROM payment_transactions t
             WHERE TG_OP = 'TRUNCATE' OR t.ref = ANY (refs)) m
     WHERE p.ref = m.ref AND p.recon_match IS DISTINCT FROM m.kind;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS recon_rows_inserted ON recon_rows;
DROP TRIGGER IF EXISTS recon_rows_deleted ON recon_rows;
DROP TRIGGER IF EXISTS recon_rows_updated ON recon_rows;
DROP TRIGGER IF EXISTS recon_rows_truncated ON recon_rows;
CREATE TRIGGER recon_rows_inserted AFTER INSERT ON recon_rows REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ioc_recon_rows_changed();
CREATE TRIGGER recon_rows_deleted AFTER DELETE ON recon_rows REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ioc_recon_rows_changed();
CREATE TRIGGER recon_rows_updated AFTER UPDATE ON recon_rows
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ioc_recon_rows_changed();
CREATE TRIGGER recon_rows_truncated AFTER TRUNCATE ON recon_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ioc_recon_rows_changed();

-- The transactions stored before this migration.
UPDATE payment_transactions
   SET recon_match = ioc_recon_match(ref, amount, dossier_code, payment_request_code, created_at);

-- Reconciliation of the successful real transactions CREATED in the window (business day =
-- local creation date, the day whose files list them). A transaction is judged when the files of
-- its business day have been received on both sides, or when one of them is overdue at the
-- window end (the missing side then shows as a break); otherwise kind = 'pending'. Judged:
-- kind NULL = matched (files match and the dossier, if named, is marked paid), else the first
-- break found. `settled_at` = settled, else created (the break's age counts from it).
CREATE OR REPLACE FUNCTION ioc_recon_status(p_from timestamptz, p_to timestamptz, p_filter jsonb)
RETURNS TABLE (ref text, intermediary text, amount numeric, settled_at timestamptz, kind text)
LANGUAGE sql STABLE AS $$
    WITH days AS MATERIALIZED (    -- the window's business days, each evaluated once
        SELECT c.day,
               (SELECT count(*) FROM recon_files f WHERE f.file_date = c.day) = 2
               OR coalesce(ioc_recon_due_at(c.day, 2) <= p_to, false) AS judged
          FROM calendar_days c
         WHERE c.day BETWEEN ioc_local_day(p_from) AND ioc_local_day(p_to))
    SELECT p.ref, p.intermediary, p.amount, coalesce(p.settled_at, p.created_at),
           CASE WHEN NOT d.judged THEN 'pending'
                WHEN p.recon_match <> 'ok' THEN p.recon_match
                WHEN p.dossier_code IS NOT NULL AND p.dossier_code NOT IN (
                         SELECT paid.code FROM dossiers paid WHERE paid.paid_online)
                    THEN 'dossier_not_updated'
           END
      FROM payment_transactions p
      JOIN days d ON d.day = ioc_local_day(p.created_at)
     WHERE NOT p.synthetic AND p.status = 'success'
       AND p.created_at >= p_from AND p.created_at < p_to
       AND (p_filter->>'intermediary' IS NULL OR p.intermediary = p_filter->>'intermediary')
$$;

-- The recon.* KPIs over ioc_recon_status, counted per (grouping, kind) first so the rest works
-- on a handful of rows. match_rate, open_breaks, break_age and unmatched_amount count judged
-- transactions only; recon.pending counts those awaiting files (denominator: all of the
-- window's transactions). NULL match rate when nothing can be judged yet.
CREATE OR REPLACE FUNCTION ioc_kpi_recon(p_kpi text, p_from timestamptz, p_to timestamptz,
                                         p_filter jsonb, p_by text)
RETURNS TABLE (labels jsonb, value double precision, numerator double precision,
               denominator double precision) LANGUAGE sql STABLE AS $$
    WITH k AS MATERIALIZED (
        SELECT CASE WHEN p_by = 'intermediary' THEN x.intermediary END AS who, x.kind,
               x.kind IS DISTINCT FROM 'pending' AS judged,
               x.kind IS NOT NULL AND x.kind <> 'pending' AS broken,
               count(*)::float8 AS n, sum(x.amount)::float8 AS amount,
               min(x.settled_at) AS first_at, sum(date_part('epoch', x.settled_at)) AS sum_at
          FROM ioc_recon_status(p_from, p_to, p_filter) x
         GROUP BY 1, 2),
    g AS (
        SELECT CASE WHEN p_by = 'intermediary' THEN jsonb_build_object('intermediary', who)
                    ELSE '{}'::jsonb END AS g, who,
               sum(n) FILTER (WHERE kind IS NULL) AS matched,
               sum(n) FILTER (WHERE judged) AS judged, sum(n) FILTER (WHERE NOT judged) AS pending,
               sum(n) AS total, sum(n) FILTER (WHERE broken) AS breaks,
               sum(amount) FILTER (WHERE broken) AS unmatched,
               date_part('epoch', p_to - min(first_at) FILTER (WHERE broken)) / 86400.0 AS oldest,
               (sum(n) FILTER (WHERE broken) * date_part('epoch', p_to)
                - sum(sum_at) FILTER (WHERE broken)) / 86400.0 AS ages
          FROM k GROUP BY who)
    SELECT g,
           CASE p_kpi WHEN 'recon.match_rate' THEN coalesce(matched, 0) / judged
                      WHEN 'recon.pending' THEN coalesce(pending, 0)
                      WHEN 'recon.unmatched_amount' THEN coalesce(unmatched, 0)
                      ELSE oldest END,
           CASE p_kpi WHEN 'recon.match_rate' THEN coalesce(matched, 0)
                      WHEN 'recon.pending' THEN coalesce(pending, 0)
                      WHEN 'recon.unmatched_amount' THEN coalesce(unmatched, 0)
                      ELSE ages END,
           CASE p_kpi WHEN 'recon.match_rate' THEN coalesce(judged, 0)
                      WHEN 'recon.pending' THEN total
                      ELSE coalesce(breaks, 0) END
      FROM g WHERE p_kpi <> 'recon.open_breaks'
    UNION ALL
    SELECT g.g || jsonb_build_object('kind', k.kind), k.n, k.n, g.judged
      FROM k JOIN g ON g.who IS NOT DISTINCT FROM k.who
     WHERE p_kpi = 'recon.open_breaks' AND k.broken
     ORDER BY 1
$$;

-- ---------------------------------------------------------------------------------------------
-- The catalogue: the new KPI and the definitions as they now are.
INSERT INTO kpi_definitions (id, family, name_vi, name_en, unit, formula, source, rule, target,
                             max_score, threshold, higher_is_better, group_by, filters) VALUES
('recon.pending', 'payments', 'Giao dịch chờ tệp đối soát', 'Transactions awaiting reconciliation files', 'count',
 'successful real transactions created in the window whose business day''s files are not yet received on both sides and not overdue (denominator: all of them)',
 'payment_transactions, recon_files', 'neither matched nor broken; a file not received by 07:00 on the second working day after the business day is overdue',
 NULL, NULL, NULL, false, '{all,intermediary}', '{intermediary}')
ON CONFLICT (id) DO NOTHING;

UPDATE kpi_definitions
   SET formula = 'successful real transactions created in the window whose business day''s files were received on both sides (or are overdue), matched on ref, codes and amount in both files, dossier marked paid ÷ those transactions',
       source = 'payment_transactions, recon_rows, recon_files, dossiers'
 WHERE id = 'recon.match_rate';
UPDATE kpi_definitions
   SET formula = 'unmatched judged transactions of the window at its end, per kind (labels.kind); pending ones are not breaks'
 WHERE id = 'recon.open_breaks';
