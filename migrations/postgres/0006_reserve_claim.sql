-- A claim's reservation in one call (app/src/store/postgres.rs calls it in autocommit mode).
-- Every claim of a workshop queues on the workshop's pool row. As a transaction of several
-- statements sent from the server, that row stayed locked from the statement that took the slot
-- until the client's COMMIT arrived: a round trip through a busy process, paid once per claim,
-- one claim after another. In one call the row is held only while Postgres finishes the
-- function and commits.
--
-- Outcomes (`outcome`): 'paused_everywhere' and 'paused' (claims are paused site-wide, which
-- wins, or in the workshop; asked first), 'reserved' and 'taken_over' (the caller mints for
-- `attendance`), 'existing' (the attendee's row, minted or being minted), 'pool_full', and
-- 'claimed_with_other_sign_in' (`other_auth_provider` says which sign-in holds the key).
CREATE FUNCTION reserve_claim(
    p_user_id       TEXT,
    p_workshop_slug TEXT,
    p_key_label     TEXT,
    p_limit_usd     NUMERIC,
    p_expires_at    TIMESTAMPTZ,
    p_now           TIMESTAMPTZ,
    p_pool_size     BIGINT,
    p_stale_after   INTERVAL,
    p_every_workshop TEXT
) RETURNS TABLE (outcome TEXT, other_auth_provider TEXT, attendance workshop_attendance)
LANGUAGE plpgsql AS $$
DECLARE
    claim    workshop_attendance;
    paused   TEXT;
    address  TEXT;
    provider TEXT;
    slots    BIGINT := 0;
BEGIN
    -- Committed without waiting for the disk: a commit that waits (3-4 ms) while the pool row is
    -- locked would cap a burst at a few hundred claims a second. A database crash may forget the
    -- last moment's reservations, slot and row together (the pool stays exact); such a claim
    -- then finds no reservation to save its key in, deletes the key and says so. The key itself
    -- is saved with a durable commit. The setting in force at commit decides.
    PERFORM set_config('synchronous_commit', 'off', true);

    SELECT c.workshop_slug INTO paused FROM workshop_controls c
     WHERE c.workshop_slug IN (p_workshop_slug, p_every_workshop) AND c.claims_paused_at IS NOT NULL
     ORDER BY c.workshop_slug = p_every_workshop DESC LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT CASE WHEN paused = p_every_workshop THEN 'paused_everywhere' ELSE 'paused' END,
                            NULL::TEXT, NULL::workshop_attendance;
        RETURN;
    END IF;

    SELECT * INTO claim FROM workshop_attendance w
     WHERE w.user_id = p_user_id AND w.workshop_slug = p_workshop_slug FOR UPDATE;
    IF FOUND THEN
        -- A reservation whose minting request died long ago is handed to this request.
        IF claim.status = 'reserved' AND p_now - claim.reserved_at >= p_stale_after THEN
            UPDATE workshop_attendance w SET reserved_at = p_now
             WHERE w.user_id = p_user_id AND w.workshop_slug = p_workshop_slug
            RETURNING * INTO claim;
            RETURN QUERY SELECT 'taken_over', NULL::TEXT, claim;
        ELSE
            RETURN QUERY SELECT 'existing', NULL::TEXT, claim;
        END IF;
        RETURN;
    END IF;

    -- One key per email address, whichever way its owner signs in: claims under the same
    -- address queue on this lock (only they do). Each statement of this function reads a fresh
    -- snapshot, so the check below sees the row of a claim that held the lock before.
    SELECT a.email_normalized INTO address FROM attendees a WHERE a.user_id = p_user_id;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_workshop_slug || ' ' || address, 0));
    -- From the address (nearly always no one else has it) to each one's row by its key. As a
    -- join, the planner started from the workshop's rows (its statistics, taken before the
    -- burst, say there are none), and every claim read all the claims before it.
    SELECT a.auth_provider INTO provider FROM attendees a
     WHERE a.email_normalized = address AND a.user_id <> p_user_id
       AND (SELECT true FROM workshop_attendance w WHERE w.user_id = a.user_id AND w.workshop_slug = p_workshop_slug)
     LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT 'claimed_with_other_sign_in', provider, NULL::workshop_attendance;
        RETURN;
    END IF;

    INSERT INTO workshop_attendance AS w
           (user_id, workshop_slug, status, reserved_at, key_label, limit_usd, expires_at, attended_at)
    VALUES (p_user_id, p_workshop_slug, 'reserved', p_now, p_key_label, p_limit_usd, p_expires_at, p_now)
    ON CONFLICT DO NOTHING
    RETURNING * INTO claim;
    IF NOT FOUND THEN
        -- A parallel request of the same attendee inserted first and committed (the insert
        -- waited for it): theirs is the claim. If that claim failed meanwhile and gave its slot
        -- back, this one starts over.
        SELECT * INTO claim FROM workshop_attendance w
         WHERE w.user_id = p_user_id AND w.workshop_slug = p_workshop_slug;
        IF FOUND THEN
            RETURN QUERY SELECT 'existing', NULL::TEXT, claim;
        ELSE
            RETURN QUERY SELECT * FROM reserve_claim(p_user_id, p_workshop_slug, p_key_label, p_limit_usd,
                                                      p_expires_at, p_now, p_pool_size, p_stale_after,
                                                      p_every_workshop);
        END IF;
        RETURN;
    END IF;

    -- The slot last, so the pool row is locked for the least time. Postgres checks
    -- `claimed < p_pool_size` on the row's latest version once it holds the lock: no claim past
    -- the pool.
    IF p_pool_size > 0 THEN
        INSERT INTO workshop_pool AS p (workshop_slug, claimed) VALUES (p_workshop_slug, 1)
        ON CONFLICT (workshop_slug) DO UPDATE SET claimed = p.claimed + 1 WHERE p.claimed < p_pool_size;
        GET DIAGNOSTICS slots = ROW_COUNT;
    END IF;
    IF slots <> 1 THEN
        -- Inserted and deleted in one transaction: nobody ever sees the row.
        DELETE FROM workshop_attendance w WHERE w.user_id = p_user_id AND w.workshop_slug = p_workshop_slug;
        RETURN QUERY SELECT 'pool_full', NULL::TEXT, NULL::workshop_attendance;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'reserved', NULL::TEXT, claim;
END
$$;
