-- Admin controls (issue #6).
-- A key an organiser disabled; the slot stays taken (the key may have spent).
ALTER TABLE workshop_attendance ADD COLUMN disabled_at TIMESTAMPTZ;
-- Background re-binding of unbound keys backs off per row.
ALTER TABLE workshop_attendance ADD COLUMN bind_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workshop_attendance ADD COLUMN next_bind_at TIMESTAMPTZ;
-- What the attendee's earlier (rotated) keys spent; the row's budget is limit_usd + this.
ALTER TABLE workshop_attendance ADD COLUMN retired_usage_usd NUMERIC(12, 4) NOT NULL DEFAULT 0;

-- Keys an admin rotated away: disabled at OpenRouter, kept for the record.
CREATE TABLE retired_keys (
    or_key_hash   TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    workshop_slug TEXT NOT NULL,
    key_label     TEXT NOT NULL,
    usage_usd     NUMERIC(12, 4) NOT NULL,
    retired_at    TIMESTAMPTZ NOT NULL,
    retired_by    TEXT NOT NULL
);
CREATE INDEX retired_keys_attendance ON retired_keys (workshop_slug, user_id);

-- The kill switch: claims are refused while a row here says so.
CREATE TABLE workshop_controls (
    workshop_slug    TEXT PRIMARY KEY,
    claims_paused_at TIMESTAMPTZ,
    claims_paused_by TEXT
);

-- Keys found at OpenRouter with a workshop's name prefix but no row (a crash between "created"
-- and "saved"), which the background work disabled.
CREATE TABLE orphan_keys (
    or_key_hash   TEXT PRIMARY KEY,
    workshop_slug TEXT NOT NULL,
    key_label     TEXT NOT NULL,
    disabled_at   TIMESTAMPTZ NOT NULL
);
