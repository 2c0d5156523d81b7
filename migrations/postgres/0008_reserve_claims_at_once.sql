-- A group of fresh claims reserved by a few set-wide statements instead of one `reserve_claim`
-- each (app/src/store/group_commit.rs sends the groups). In a burst every group waits for the
-- ones before it, and `reserve_claim` runs eight statements per claim: 300 claims cost Postgres
-- about 80 ms, one group after another. Nearly every claim in a burst is the common case (signed
-- in, no row yet, the only sign-in of its address, room in the pool), and for a group made only
-- of those the answer is known: each one is reserved. This function checks that, and then
-- inserts the group's rows and takes its slots with one statement each.
--
-- Anything else (a row already there, two members with one address, a pause, a pool without room
-- for all, a pool of none, several workshops) is left to `reserve_claim`, one member after another, as in
-- 0007: those cases are decided exactly as before. A race with another connection (a row
-- inserted, a slot taken after the checks) is seen by the statements themselves, which then
-- fall back the same way. The fast path runs in a subtransaction, so falling back leaves nothing
-- of it behind.
CREATE OR REPLACE FUNCTION reserve_claims(
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
DECLARE
    members   INT := cardinality(p_user_ids);
    slug      TEXT := p_workshop_slugs[1];
    pool_size BIGINT := p_pool_sizes[1];
    addresses TEXT[];
    written   BIGINT;
BEGIN
    -- As in `reserve_claim`, and for the same reason.
    PERFORM set_config('synchronous_commit', 'off', true);
    IF members > 1 AND slug = ALL (p_workshop_slugs) AND pool_size = ALL (p_pool_sizes) AND pool_size > 0
       AND NOT EXISTS (SELECT 1 FROM workshop_controls c
                        WHERE c.workshop_slug IN (slug, p_every_workshop) AND c.claims_paused_at IS NOT NULL)
    THEN
        BEGIN
            SELECT array_agg(a.email_normalized ORDER BY m.n) INTO addresses
              FROM unnest(p_user_ids) WITH ORDINALITY m(user_id, n)
              JOIN attendees a ON a.user_id = m.user_id;
            IF cardinality(addresses) IS DISTINCT FROM members
               OR (SELECT count(DISTINCT x) FROM unnest(p_user_ids) x) <> members
               OR (SELECT count(DISTINCT x) FROM unnest(addresses) x) <> members
               OR EXISTS (SELECT 1 FROM unnest(p_user_ids) m(user_id)
                           WHERE EXISTS (SELECT 1 FROM workshop_attendance w
                                          WHERE w.user_id = m.user_id AND w.workshop_slug = slug))
            THEN
                RAISE EXCEPTION USING ERRCODE = 'MR001', MESSAGE = 'not a group of fresh claims';
            END IF;
            -- The address locks of `reserve_claim`, taken in one order: two groups on this path
            -- (from two replicas) never wait on each other for them.
            PERFORM pg_advisory_xact_lock(hashtextextended(slug || ' ' || x, 0)) FROM unnest(addresses) x ORDER BY x;
            IF EXISTS (SELECT 1 FROM unnest(p_user_ids, addresses) m(user_id, address)
                        WHERE EXISTS (SELECT 1 FROM attendees a
                                       WHERE a.email_normalized = m.address AND a.user_id <> m.user_id
                                         AND (SELECT true FROM workshop_attendance w
                                               WHERE w.user_id = a.user_id AND w.workshop_slug = slug)))
            THEN
                RAISE EXCEPTION USING ERRCODE = 'MR001', MESSAGE = 'an address claimed with another sign-in';
            END IF;
            INSERT INTO workshop_attendance
                   (user_id, workshop_slug, status, reserved_at, key_label, limit_usd, expires_at, attended_at)
            SELECT m.user_id, slug, 'reserved', m.now, m.key_label, m.limit_usd, m.expires_at, m.now
              FROM unnest(p_user_ids, p_key_labels, p_limits_usd, p_expires_at, p_nows)
                   m(user_id, key_label, limit_usd, expires_at, now)
            ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS written = ROW_COUNT;
            IF written <> members THEN
                RAISE EXCEPTION USING ERRCODE = 'MR001', MESSAGE = 'a row inserted meanwhile';
            END IF;
            -- The slots last, as in `reserve_claim`: all of them, or the group falls back and each
            -- member learns on its own whether one is left for it.
            INSERT INTO workshop_pool AS p (workshop_slug, claimed)
            SELECT slug, members WHERE members <= pool_size
            ON CONFLICT (workshop_slug) DO UPDATE SET claimed = p.claimed + members
             WHERE p.claimed + members <= pool_size;
            GET DIAGNOSTICS written = ROW_COUNT;
            IF written <> 1 THEN
                RAISE EXCEPTION USING ERRCODE = 'MR001', MESSAGE = 'no room in the pool for all';
            END IF;
            -- Nothing can fall back after this: rows returned here are never taken back.
            RETURN QUERY
            SELECT m.n::INT, 'reserved'::TEXT, NULL::TEXT, w
              FROM unnest(p_user_ids) WITH ORDINALITY m(user_id, n)
              JOIN workshop_attendance w ON w.user_id = m.user_id AND w.workshop_slug = slug
             ORDER BY m.n;
            RETURN;
        EXCEPTION WHEN SQLSTATE 'MR001' THEN
            NULL; -- rolled back to the block's start; each member on its own, below
        END;
    END IF;
    FOR n IN 1 .. members LOOP
        RETURN QUERY
        SELECT n, r.outcome, r.other_auth_provider, r.attendance
          FROM reserve_claim(p_user_ids[n], p_workshop_slugs[n], p_key_labels[n], p_limits_usd[n],
                             p_expires_at[n], p_nows[n], p_pool_sizes[n],
                             p_stale_afters[n], p_every_workshop) r;
    END LOOP;
END
$$;
