-- Sign-in attempts already completed: the short-lived login cookie is single-use even if a
-- copy of it (and of the provider's callback URL) is replayed. Rows are useless once expired.
CREATE TABLE used_login_states (
    id         TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
