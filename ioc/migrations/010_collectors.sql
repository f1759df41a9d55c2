-- Collectors: heartbeats (so the death of a collector can be alerted on) and the cursors of
-- the `records` kind (business records go through ioc_upsert_records, migration 020).

CREATE TABLE IF NOT EXISTS collector_heartbeats (
    collector_id text PRIMARY KEY,
    shard        text NOT NULL,
    started_at   timestamptz NOT NULL,
    seen_at      timestamptz NOT NULL,
    targets      integer NOT NULL,
    version      text NOT NULL
);

CREATE TABLE IF NOT EXISTS collector_cursors (
    target_id  text PRIMARY KEY,
    cursor     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
