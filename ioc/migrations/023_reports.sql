-- Weekly reports: every generated version is kept; a published version is frozen (the trigger
-- refuses changes to its content), and a regeneration is a new version saying what changed.
CREATE TABLE IF NOT EXISTS reports (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL DEFAULT 'weekly',
    period        text NOT NULL,                 -- ISO week, e.g. 2026-W47
    language      text NOT NULL CHECK (language IN ('vi', 'en')),
    version       integer NOT NULL CHECK (version >= 1),
    period_from   timestamptz NOT NULL,
    period_to     timestamptz NOT NULL,
    data          jsonb NOT NULL,
    html          text NOT NULL,
    pdf           bytea,
    changes       jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{"key","before","after"}] vs previous
    created_at    timestamptz NOT NULL,
    published_at  timestamptz,
    sent_at       timestamptz,
    sent_to       text[] NOT NULL DEFAULT '{}',
    UNIQUE (kind, period, language, version)
);

CREATE OR REPLACE FUNCTION ioc_reports_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.published_at IS NOT NULL THEN
        RAISE EXCEPTION 'report % v% is published and frozen', OLD.period, OLD.version;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.published_at IS NOT NULL
       AND (NEW.data, NEW.html, NEW.pdf, NEW.version, NEW.period, NEW.language, NEW.changes,
            NEW.published_at)
           IS DISTINCT FROM (OLD.data, OLD.html, OLD.pdf, OLD.version, OLD.period,
                             OLD.language, OLD.changes, OLD.published_at) THEN
        RAISE EXCEPTION 'report % v% is published and frozen: generate a new version',
            OLD.period, OLD.version;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

DROP TRIGGER IF EXISTS reports_frozen ON reports;
CREATE TRIGGER reports_frozen BEFORE UPDATE OR DELETE ON reports
    FOR EACH ROW EXECUTE FUNCTION ioc_reports_frozen();
