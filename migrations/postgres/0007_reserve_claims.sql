-- Several claims' reservations in one call: one round trip, one transaction, one commit
-- (app/src/store/group_commit.rs). In a burst every claim of a workshop queued for a pooled
-- connection and then on the workshop's pool row; the reservations waiting at one moment now go
-- together. Each is decided by `reserve_claim`, in the order given, exactly as it would be alone,
-- and sees the ones before it. `i` is the 1-based position of the reservation a row answers. If
-- any of them fails, the whole call rolls back and the server reserves each one on its own.
-- A group holds its workshop's pool row from its first reservation to its commit. With several
-- replicas, two groups can then wait on each other (one holds the pool row, the other an
-- address's lock that a later member of the first needs); Postgres breaks that after
-- `deadlock_timeout` (1 s) by failing one of them, whose members are then reserved one by one.
CREATE FUNCTION reserve_claims(
    p_user_ids        TEXT[],
    p_workshop_slugs  TEXT[],
    p_key_labels      TEXT[],
    p_limits_usd      NUMERIC[],
    p_expires_at      TIMESTAMPTZ[],
    p_nows            TIMESTAMPTZ[],
    p_pool_sizes      BIGINT[],
    p_stale_afters    INTERVAL[],
    p_every_workshop  TEXT
) RETURNS TABLE (i INT, outcome TEXT, other_auth_provider TEXT, attendance workshop_attendance)
LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1 .. cardinality(p_user_ids) LOOP
        RETURN QUERY
        SELECT n, r.outcome, r.other_auth_provider, r.attendance
          FROM reserve_claim(p_user_ids[n], p_workshop_slugs[n], p_key_labels[n], p_limits_usd[n],
                             p_expires_at[n], p_nows[n], p_pool_sizes[n],
                             p_stale_afters[n], p_every_workshop) r;
    END LOOP;
END
$$;
