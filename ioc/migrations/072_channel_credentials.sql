-- Credentials a notification channel renews itself: Zalo's OA access token lasts about 25 hours
-- and its refresh token works once, so each renewed pair is written here (committed) before it
-- is used. Tokens are encrypted (AES-GCM, key derived from IOC_SECRET_KEY, the store's name as
-- associated data); `seed_digest` is an HMAC of the configured refresh token, so a new one in
-- the config re-seeds the store. A sender holds an advisory lock on the name while it renews.
CREATE TABLE IF NOT EXISTS channel_credentials (
    name          text PRIMARY KEY,
    access_token  bytea,
    refresh_token bytea NOT NULL,
    expires_at    timestamptz NOT NULL DEFAULT '-infinity',
    seed_digest   text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Encrypted or not, tokens are none of a dashboard's business.
REVOKE ALL ON channel_credentials FROM ioc_grafana;
