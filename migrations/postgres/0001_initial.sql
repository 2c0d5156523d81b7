-- People who signed in. One row per stable provider identity (`google|sub`, `github|id`, `dev|email`).
CREATE TABLE attendees (
    user_id                     TEXT PRIMARY KEY,
    email                       TEXT NOT NULL,
    email_normalized            TEXT NOT NULL,
    display_name                TEXT NOT NULL,
    auth_provider               TEXT NOT NULL,
    marketing_opted_in          BOOLEAN NOT NULL DEFAULT FALSE,
    marketing_opted_in_at       TIMESTAMPTZ,
    marketing_opted_in_workshop TEXT,
    first_seen_at               TIMESTAMPTZ NOT NULL,
    last_seen_at                TIMESTAMPTZ NOT NULL
);
CREATE INDEX attendees_email_normalized ON attendees (email_normalized);

-- One claim per attendee per workshop. A row is first `reserved` (the pool slot is taken),
-- then `minted` once OpenRouter returned the key. `guardrail_attached_at` NULL = unbound.
CREATE TABLE workshop_attendance (
    user_id               TEXT NOT NULL REFERENCES attendees (user_id),
    workshop_slug         TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('reserved', 'minted')),
    reserved_at           TIMESTAMPTZ NOT NULL,
    or_key_hash           TEXT,
    or_key_plaintext      TEXT,
    key_label             TEXT NOT NULL,
    limit_usd             NUMERIC(12, 4) NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL,
    or_guardrail_id       TEXT,
    guardrail_attached_at TIMESTAMPTZ,
    usage_usd             NUMERIC(12, 4) NOT NULL DEFAULT 0,
    usage_synced_at       TIMESTAMPTZ,
    attended_at           TIMESTAMPTZ,
    PRIMARY KEY (user_id, workshop_slug)
);
CREATE INDEX workshop_attendance_slug ON workshop_attendance (workshop_slug);

-- The pool counter per workshop: the row lock on it makes "no claim past the pool" exact.
CREATE TABLE workshop_pool (
    workshop_slug TEXT PRIMARY KEY,
    claimed       INTEGER NOT NULL CHECK (claimed >= 0)
);

-- The OpenRouter guardrail id of each workshop, so later claims skip the lookup.
CREATE TABLE workshop_guardrails (
    workshop_slug TEXT PRIMARY KEY,
    guardrail_id  TEXT NOT NULL
);
