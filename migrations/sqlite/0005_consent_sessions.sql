-- Safe for a real event (issue #14).

-- Marketing consent belongs to the workshop where it was given. A row per opt-in; withdrawing
-- fills `withdrawn_at` (the record stays). A workshop's leads are its rows not withdrawn.
-- `attendees.marketing_opted_in*` keep meaning "the latest opt-in still standing".
CREATE TABLE marketing_consents (
    user_id       TEXT NOT NULL REFERENCES attendees (user_id),
    workshop_slug TEXT NOT NULL,
    given_at      TEXT NOT NULL,
    withdrawn_at  TEXT,
    PRIMARY KEY (user_id, workshop_slug, given_at)
);
CREATE INDEX marketing_consents_workshop ON marketing_consents (workshop_slug);
-- Before this table only the latest opt-in was kept (a later one overwrote an earlier one).
INSERT INTO marketing_consents (user_id, workshop_slug, given_at)
SELECT user_id, marketing_opted_in_workshop, marketing_opted_in_at FROM attendees
WHERE marketing_opted_in = 1 AND marketing_opted_in_workshop IS NOT NULL AND marketing_opted_in_at IS NOT NULL;

-- Sessions ended by signing out: a cookie with one of these ids authenticates nothing, on any
-- replica. Rows are useless once the session would have expired anyway.
CREATE TABLE revoked_sessions (
    id         TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

-- workshop_controls: the row with workshop_slug '*' (never a workshop's slug) pauses claims in
-- every workshop at once.
