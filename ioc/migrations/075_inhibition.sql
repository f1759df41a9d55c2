-- Inhibition (config inhibit_rules, Alertmanager's semantics): while a source alert fires, the
-- alerts it mutes keep their own state but are not notified. The engine writes here, every cycle,
-- which firing alert mutes each alert (NULL: none), so the API and the wall can say "muted by",
-- and an acknowledgement of the source can cover what it mutes.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS inhibited_by text;
CREATE INDEX IF NOT EXISTS alerts_inhibited_by ON alerts (inhibited_by)
    WHERE inhibited_by IS NOT NULL;
