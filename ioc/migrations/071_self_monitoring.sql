-- Watching the watcher. (1) A `metrics` token role that may only scrape the API's /metrics, so
-- the credentials file on the Prometheus host reveals nothing of the province. (2) The
-- notification outbox as Grafana may see it: channel, state, attempts and times, never the
-- events, recipients, keys or error texts (the role ioc_grafana cannot read `notifications`).

ALTER TABLE api_tokens DROP CONSTRAINT IF EXISTS api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('viewer', 'operator', 'admin', 'ingest', 'metrics'));

-- A view runs with its owner's privileges on `notifications`: ioc_grafana reads these columns
-- only. `failing` says the last attempt failed (the text of the error stays in the outbox).
-- For a message given up (state 'failed') due_at is when that happened.
CREATE OR REPLACE VIEW notification_health AS
SELECT id, channel, state, attempts, created_at, due_at, sent_at,
       last_error IS NOT NULL AS failing
  FROM notifications;

GRANT SELECT ON notification_health TO ioc_grafana;
