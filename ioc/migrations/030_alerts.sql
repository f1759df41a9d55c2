-- Alerts: current alert state, every transition, acknowledgements, silences, and the
-- notification outbox with what each alert episode has been sent (Alertmanager's nflog).

-- One row per alert (rule + labels). Resolved rows stay for the wall and are reused when the
-- same alert fires again; the history is in alert_transitions.
CREATE TABLE IF NOT EXISTS alerts (
    fingerprint    text PRIMARY KEY,
    rule_id        text NOT NULL,
    labels         jsonb NOT NULL,
    annotations    jsonb NOT NULL DEFAULT '{}'::jsonb,
    severity       text NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    state          text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    value          double precision,
    started_at     timestamptz NOT NULL,          -- condition first seen in this episode
    firing_at      timestamptz,
    resolved_at    timestamptz,
    acked_at       timestamptz,
    acked_by       text,
    updated_at     timestamptz NOT NULL,
    -- engine bookkeeping: consecutive failing/passing evaluations, flap damping, episode id
    fail_count     integer NOT NULL DEFAULT 0,
    ok_count       integer NOT NULL DEFAULT 0,
    ok_since       timestamptz,
    fired_at       timestamptz[] NOT NULL DEFAULT '{}',
    flapping       boolean NOT NULL DEFAULT false,
    episode        bigint                         -- id of the transition that made it fire
);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule_id);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (state) WHERE state <> 'resolved';

-- Every state change: feeds the wall, Grafana annotations and the report's incident list.
CREATE TABLE IF NOT EXISTS alert_transitions (
    id           bigserial PRIMARY KEY,
    fingerprint  text NOT NULL,
    rule_id      text NOT NULL,
    labels       jsonb NOT NULL,
    severity     text NOT NULL,
    from_state   text NOT NULL CHECK (from_state IN ('inactive', 'pending', 'firing', 'resolved')),
    to_state     text NOT NULL CHECK (to_state IN ('inactive', 'pending', 'firing', 'resolved')),
    value        double precision,
    at           timestamptz NOT NULL,
    annotations  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS alert_transitions_at ON alert_transitions (at);
CREATE INDEX IF NOT EXISTS alert_transitions_fp ON alert_transitions (fingerprint, at);

-- Acknowledgements, one per firing episode (MTTA = acked_at - firing_at of the episode).
CREATE TABLE IF NOT EXISTS alert_acks (
    fingerprint  text NOT NULL,
    episode      bigint NOT NULL,
    acked_at     timestamptz NOT NULL,
    acked_by     text NOT NULL,
    via          text NOT NULL CHECK (via IN ('api', 'link', 'cli')),
    PRIMARY KEY (fingerprint, episode)
);

-- Silences mute notifications for matching alerts (the alerts still change state).
CREATE TABLE IF NOT EXISTS silences (
    id          bigserial PRIMARY KEY,
    matchers    jsonb NOT NULL,                  -- [{"label","op","value"}, ...], all must match
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    created_by  text NOT NULL,
    comment     text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'config')),
    CONSTRAINT silences_order CHECK (ends_at > starts_at)
);
CREATE INDEX IF NOT EXISTS silences_active ON silences (ends_at);

-- The transactional outbox: one row per message to one channel (and recipient), written in
-- the same transaction as the transitions it reports. `events` holds the alert events grouped
-- into the message; the idempotency key is the key of its first event.
CREATE TABLE IF NOT EXISTS notifications (
    id               bigserial PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    channel          text NOT NULL,
    recipient        text NOT NULL DEFAULT '',     -- '' = the channel's configured recipients
    group_key        text NOT NULL,
    events           jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
    attempts         integer NOT NULL DEFAULT 0,
    due_at           timestamptz NOT NULL,
    claimed_until    timestamptz,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    last_error       text
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (due_at)
    WHERE state IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS notifications_open_group ON notifications (channel, recipient, group_key)
    WHERE state = 'pending' AND attempts = 0;

-- What the current episode of each alert has been sent, per channel and recipient: decides
-- repeats, escalation steps already taken, and who gets the resolved message.
CREATE TABLE IF NOT EXISTS alert_notified (
    fingerprint    text NOT NULL,
    channel        text NOT NULL,
    recipient      text NOT NULL DEFAULT '',
    episode        bigint NOT NULL,
    level          integer NOT NULL DEFAULT 0,
    group_key      text NOT NULL,
    send_resolved  boolean NOT NULL,
    sends          integer NOT NULL DEFAULT 1,
    last_at        timestamptz NOT NULL,
    PRIMARY KEY (fingerprint, channel, recipient)
);

-- The alert engine's own heartbeat: an absence rule (heartbeat: alerts) run by a second engine,
-- and the API's readiness, can see that evaluation stopped.
CREATE TABLE IF NOT EXISTS alert_engine_heartbeats (
    instance    text PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL
);
