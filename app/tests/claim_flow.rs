//! The mint flow end to end against the simulator over real HTTP and a real SQLite database:
//! reserve → ensure guardrail → create key → assign → save the key with its binding.
#![cfg(feature = "ssr")]

mod support;

use support::flow::{chat_status, harness, now, state_for, user, workshop, Harness, MGMT_KEY};

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use app::auth::SessionUser;
use app::claim::mint::claim;
use app::claim::ClaimError;
use std::time::Duration as StdDuration;

use app::store::{AttendeeProfile, ClaimStatus};
use openrouter::Simulator;

#[tokio::test]
async fn claim_mints_a_bound_key_with_the_workshops_limits() {
    let h = harness().await;
    let w = workshop(10);
    let ada = user(&h.state, "ada").await;
    let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
    assert_eq!(h.simulator.request_count(), 4, "find guardrail, create it, create key, assign");

    assert_eq!(row.status, ClaimStatus::Minted);
    let key = row.or_key_plaintext.clone().unwrap();
    assert!(key.starts_with("sk-or-v1-"));
    assert!(row.key_label.starts_with("flow-"));
    assert!(row.guardrail_attached_at.is_some(), "bound");

    let guardrails = h.simulator.guardrails();
    assert_eq!(guardrails.len(), 1);
    let guardrail = &guardrails[0];
    assert_eq!(guardrail.name, "workshop-flow");
    assert_eq!(guardrail.limit_usd, Some(1000.0));
    assert_eq!(
        guardrail.allowed_models.as_deref(),
        Some(&["openai/gpt-4o-mini".to_string(), "meta-llama/llama-3.1-8b-instruct".to_string()][..])
    );

    let keys = h.simulator.keys();
    assert_eq!(keys.len(), 1);
    let minted = &keys[0];
    assert_eq!(minted.info.name, row.key_label);
    assert_eq!(minted.info.limit, Some(2.0));
    assert_eq!(minted.info.expires_at, Some(w.key_expires_at()));
    assert_eq!(w.key_expires_at().to_rfc3339(), "2036-01-01T11:30:00+00:00", "ends_at + 30 min, in UTC");
    assert_eq!(minted.guardrail_id.as_deref(), Some(guardrail.id.as_str()));
    assert_eq!(row.or_guardrail_id.as_deref(), Some(guardrail.id.as_str()));

    // Claiming again (reload, second device) returns the same key and calls nothing.
    let before = h.simulator.request_count();
    let again = claim(&h.state, &ada, &w, false, now()).await.unwrap();
    assert_eq!(again.or_key_plaintext.as_deref(), Some(key.as_str()));
    assert_eq!(h.simulator.request_count(), before);
}

#[tokio::test]
async fn later_claims_reuse_the_stored_guardrail_two_calls_each() {
    let h = harness().await;
    let w = workshop(10);
    let first = user(&h.state, "first").await;
    claim(&h.state, &first, &w, false, now()).await.unwrap();
    let before = h.simulator.request_count();
    let second = user(&h.state, "second").await;
    claim(&h.state, &second, &w, false, now()).await.unwrap();
    assert_eq!(h.simulator.request_count() - before, 2, "create key + assign");
}

#[tokio::test]
async fn fifty_parallel_submits_yield_exactly_one_key() {
    let h = harness().await;
    let w = workshop(10);
    let ada = user(&h.state, "ada").await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (state, ada, w) = (h.state.clone(), ada.clone(), w.clone());
            tokio::spawn(async move { claim(&state, &ada, &w, false, now()).await })
        })
        .collect();
    let mut keys = Vec::new();
    for task in tasks {
        keys.push(task.await.unwrap().unwrap().or_key_plaintext.unwrap());
    }
    assert_eq!(keys.len(), 50);
    keys.dedup();
    assert_eq!(keys.len(), 1, "every submit sees the same key");
    assert_eq!(h.simulator.key_count(), 1, "OpenRouter minted once");
    assert_eq!(h.simulator.request_log().iter().filter(|r| *r == "POST /keys").count(), 1, "and was asked once");
    assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 1);
}

#[tokio::test]
async fn first_claims_racing_create_one_guardrail_and_the_pool_is_exact() {
    let h = harness().await;
    let w = workshop(5);
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(user(&h.state, &format!("u{i}")).await);
    }
    let tasks: Vec<_> = users
        .into_iter()
        .map(|u| {
            let (state, w) = (h.state.clone(), w.clone());
            tokio::spawn(async move { claim(&state, &u, &w, false, now()).await })
        })
        .collect();
    let (mut ok, mut full) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(ClaimError::PoolFull) => full += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, full), (5, 7));
    assert_eq!(h.simulator.key_count(), 5);
    assert_eq!(h.simulator.guardrails().len(), 1);
}

/// 300 attendees race for a pool of 100 (max_keys 100; cap $200 / budget $2 = 100 as well, so a
/// 101st key would break the pool rule too), on SQLite and on Postgres: exactly 100 keys, 100
/// minted rows, 200 "full", and at no moment during the race more enabled keys than the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_attendees_race_for_one_hundred_keys_on_both_databases() {
    for (store, db) in support::db::both_databases().await {
        let db = db.name;
        let h = support::flow::harness_on(store).await;
        let mut w = workshop(100);
        w.openrouter.guardrail.cap_usd = 200.into();
        assert_eq!(w.pool_size(), 100);
        let (budget, cap) = (2.0, 200.0);
        let mut users = Vec::new();
        for i in 0..300 {
            users.push(user(&h.state, &format!("racer{i}")).await);
        }

        // Samples OpenRouter's side of the pool rule while the race runs.
        let racing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let watcher = {
            let (simulator, racing) = (h.simulator.clone(), racing.clone());
            tokio::spawn(async move {
                let (mut samples, mut most) = (0u32, 0usize);
                while racing.load(std::sync::atomic::Ordering::SeqCst) {
                    most = most.max(simulator.keys().iter().filter(|k| !k.info.disabled).count());
                    samples += 1;
                    tokio::time::sleep(StdDuration::from_millis(2)).await;
                }
                (samples, most)
            })
        };
        let tasks: Vec<_> = users
            .into_iter()
            .map(|u| {
                let (state, w) = (h.state.clone(), w.clone());
                tokio::spawn(async move { claim(&state, &u, &w, false, now()).await })
            })
            .collect();
        let (mut minted, mut full) = (Vec::new(), 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(row) => minted.push(row),
                Err(ClaimError::PoolFull) => full += 1,
                Err(other) => panic!("{db}: unexpected {other:?}"),
            }
        }
        racing.store(false, std::sync::atomic::Ordering::SeqCst);
        let (samples, most_enabled) = watcher.await.unwrap();

        assert_eq!((minted.len(), full), (100, 200), "{db}");
        let keys = h.simulator.keys();
        assert_eq!(keys.len(), 100, "{db}: exactly 100 keys at OpenRouter");
        assert!(keys.iter().all(|k| !k.info.disabled && k.info.limit == Some(budget)), "{db}");
        let limits: f64 = keys.iter().filter_map(|k| k.info.limit).sum();
        assert!(limits <= cap, "{db}: keys × budget = {limits} > cap {cap}");
        assert!(
            samples > 1 && most_enabled as f64 * budget <= cap,
            "{db}: {most_enabled} keys at once ({samples} samples)"
        );
        let guardrails = h.simulator.guardrails();
        assert_eq!(guardrails.len(), 1, "{db}");
        assert!(keys.iter().all(|k| k.guardrail_id.as_deref() == Some(guardrails[0].id.as_str())), "{db}: all bound");

        let rows = h.state.store.workshop_attendance("flow").await.unwrap();
        assert_eq!(rows.len(), 100, "{db}: 100 rows");
        assert!(rows.iter().all(|(_, row)| row.status == ClaimStatus::Minted), "{db}: all minted");
        let mut stored: Vec<_> = rows.iter().map(|(_, row)| row.or_key_hash.clone().unwrap()).collect();
        let mut live: Vec<_> = keys.iter().map(|k| k.info.hash.clone()).collect();
        stored.sort();
        live.sort();
        assert_eq!(stored, live, "{db}: each row holds one of the keys, each key is one row's");
        let mut told: Vec<_> = minted.iter().map(|row| row.or_key_hash.clone().unwrap()).collect();
        told.sort();
        assert_eq!(told, live, "{db}: each winner was told their own key");
        assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 100, "{db}");
    }
}

#[tokio::test]
async fn pool_counts_the_budget_cap_too() {
    let h = harness().await;
    // cap 5 USD / budget 2 USD = 2 keys, although max_keys is 10.
    let mut w = workshop(10);
    w.openrouter.guardrail.cap_usd = 5.into();
    for name in ["a", "b"] {
        let u = user(&h.state, name).await;
        claim(&h.state, &u, &w, false, now()).await.unwrap();
    }
    let c = user(&h.state, "c").await;
    assert_eq!(claim(&h.state, &c, &w, false, now()).await.unwrap_err(), ClaimError::PoolFull);
}

#[tokio::test]
async fn failed_assignment_still_gives_the_key_unbound() {
    let h = harness().await;
    let w = workshop(10);
    // Ensure the guardrail first so the injected fault hits the assignment.
    let first = user(&h.state, "first").await;
    claim(&h.state, &first, &w, false, now()).await.unwrap();

    h.simulator.fail_next("/assignments/keys", 500, 10);
    let ada = user(&h.state, "ada").await;
    let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
    assert!(row.or_key_plaintext.is_some(), "the attendee has the key");
    assert!(row.guardrail_attached_at.is_none(), "and the row is unbound");
    assert!(row.bind_attempts == 1 && row.next_bind_at.is_some_and(|at| at > now()), "with a retry due later");
    assert_eq!(h.state.store.attendance(&ada.user_id, "flow").await.unwrap(), Some(row.clone()), "saved as shown");
    let simulated = h.simulator.keys().into_iter().find(|k| k.info.hash == row.or_key_hash.clone().unwrap()).unwrap();
    assert_eq!(simulated.guardrail_id, None);
}

#[tokio::test]
async fn failed_key_creation_releases_the_slot_and_says_busy() {
    let h = harness().await;
    let w = workshop(1);
    let first = user(&h.state, "first").await;
    h.simulator.fail_next("POST ^/keys$", 503, 10);
    assert_eq!(claim(&h.state, &first, &w, false, now()).await.unwrap_err(), ClaimError::Busy);
    assert_eq!(h.simulator.key_count(), 0);
    assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 0);
    assert!(h.state.store.attendance(&first.user_id, "flow").await.unwrap().is_none());
    // Once OpenRouter recovers, the slot is free again and the retry succeeds.
    h.simulator.clear_faults();
    assert!(claim(&h.state, &first, &w, false, now()).await.is_ok());
}

#[tokio::test]
async fn claims_outside_the_window_are_refused_and_change_nothing() {
    let h = harness().await;
    let w = workshop(10);
    let ada = user(&h.state, "ada").await;
    let opens_at = w.claims_open_at.with_timezone(&Utc);
    let early = opens_at - Duration::minutes(1);
    assert_eq!(claim(&h.state, &ada, &w, true, early).await.unwrap_err(), ClaimError::NotOpenYet { opens_at });
    let late = w.claims_close_at.with_timezone(&Utc) + Duration::seconds(1);
    assert_eq!(claim(&h.state, &ada, &w, true, late).await.unwrap_err(), ClaimError::Closed);
    let mut inactive = w.clone();
    inactive.is_active = false;
    assert_eq!(claim(&h.state, &ada, &inactive, true, now()).await.unwrap_err(), ClaimError::Inactive);

    assert_eq!(h.simulator.request_count(), 0);
    assert!(h.state.store.attendance(&ada.user_id, "flow").await.unwrap().is_none());
    assert!(!h.state.store.attendee(&ada.user_id).await.unwrap().unwrap().marketing_opted_in, "consent not stored");
}

#[tokio::test]
async fn the_same_email_through_another_sign_in_is_refused() {
    let h = harness().await;
    let w = workshop(10);
    let with = |user_id: &str, email: &str, provider: &str| AttendeeProfile {
        user_id: user_id.into(),
        email: email.into(),
        email_normalized: app::auth::normalize_email(email),
        display_name: "Ada".into(),
        auth_provider: provider.into(),
    };
    let github = with("github|42", "ada.lovelace@gmail.com", "github");
    let google = with("google|7", "Ada.Lovelace+workshop@googlemail.com", "google");
    for p in [&github, &google] {
        h.state.store.upsert_attendee(p, now()).await.unwrap();
    }
    let session = |p: &AttendeeProfile| SessionUser {
        user_id: p.user_id.clone(),
        email: p.email.clone(),
        name: p.display_name.clone(),
        provider: p.auth_provider.clone(),
    };
    claim(&h.state, &session(&github), &w, false, now()).await.unwrap();
    let keys_before = h.simulator.key_count();
    let refused = claim(&h.state, &session(&google), &w, false, now()).await.unwrap_err();
    assert_eq!(refused, ClaimError::ClaimedWithOtherSignIn { provider: "github".into() });
    assert!(refused.to_string().contains("another sign-in (GitHub)"), "{refused}");
    assert_eq!(h.simulator.key_count(), keys_before, "no key minted for the second sign-in");
    assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 1);
    assert!(h.state.store.attendance("google|7", "flow").await.unwrap().is_none());
}

#[tokio::test]
async fn test_my_key_explains_each_failure_of_a_real_request() {
    use app::claim::key_check::{cheapest_model, check_key};
    use app::claim::key_faults::{inject, KeyFault};
    use app::claim::KeyCheck;

    let h = harness().await;
    let w = workshop(10);
    let cheapest = cheapest_model(&w.openrouter.models).unwrap().id.clone();
    assert_eq!(cheapest, "meta-llama/llama-3.1-8b-instruct", "0.02 + 0.05 beats 0.15 + 0.6");
    let check = |key: String| {
        let (state, model) = (h.state.clone(), cheapest.clone());
        async move { check_key(&state.openrouter, &key, &model).await }
    };
    let mut rows = Vec::new();
    let mut key_of = Vec::new();
    for name in ["works", "expired", "budget", "models", "revoked"] {
        let row = claim(&h.state, &user(&h.state, name).await, &w, false, now()).await.unwrap();
        key_of.push(row.or_key_plaintext.clone().unwrap());
        rows.push(row);
    }

    let works = check(key_of[0].clone()).await;
    assert_eq!(
        works,
        KeyCheck::Works { model: cheapest.clone(), answer: openrouter::simulator::CANNED_COMPLETION.into() }
    );
    let spent = h.simulator.keys().iter().map(|k| k.info.usage).sum::<f64>();
    assert!(spent > 0.0, "the test request was charged to the attendee's key");

    let faults = [
        (KeyFault::Expired, KeyCheck::Expired),
        (KeyFault::OverBudget, KeyCheck::OverBudget),
        (
            KeyFault::ModelNotAllowed,
            // The simulator's refusal, word for word as OpenRouter words it.
            KeyCheck::ModelNotAllowed {
                model: cheapest.clone(),
                refusal: format!("Model {cheapest} is not allowed by the guardrail of this API key"),
            },
        ),
        (KeyFault::Revoked, KeyCheck::Revoked),
    ];
    for ((key, row), (fault, expected)) in key_of[1..].iter().zip(&rows[1..]).zip(faults) {
        assert!(check(key.clone()).await.works(), "{fault:?}: works before");
        inject(&h.state, row, fault).await.unwrap();
        assert_eq!(check(key.clone()).await, expected, "{fault:?}");
    }
    // The others were not touched.
    assert!(check(key_of[0].clone()).await.works());
}

#[tokio::test]
async fn consent_is_stored_only_when_ticked() {
    let h = harness().await;
    let w = workshop(10);
    let (yes, no) = (user(&h.state, "yes").await, user(&h.state, "no").await);
    claim(&h.state, &yes, &w, true, now()).await.unwrap();
    claim(&h.state, &no, &w, false, now()).await.unwrap();
    let yes = h.state.store.attendee(&yes.user_id).await.unwrap().unwrap();
    assert!(yes.marketing_opted_in);
    assert_eq!(yes.marketing_opted_in_workshop.as_deref(), Some("flow"));
    assert!(yes.marketing_opted_in_at.is_some());
    assert!(!h.state.store.attendee(&no.user_id).await.unwrap().unwrap().marketing_opted_in);

    // A claim the pool refuses records nothing, consent included.
    let full = workshop(2);
    let late = user(&h.state, "late").await;
    assert_eq!(claim(&h.state, &late, &full, true, now()).await.unwrap_err(), ClaimError::PoolFull);
    assert!(!h.state.store.attendee(&late.user_id).await.unwrap().unwrap().marketing_opted_in);
}

/// One fault on one call of a first claim, and what the attendee must end with.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Status(u16, u32),
    StatusAfterApply(u16, u32),
    Hang,
    HangAfterApply,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// One working key, bound to the guardrail.
    Bound,
    /// One working key, left unbound for an admin to retry.
    Unbound,
    /// "Try again", no key anywhere, the pool slot given back.
    TryAgain,
}

async fn run_fault(target: &str, fault: Fault) -> Outcome {
    let h = harness().await;
    h.simulator.set_retry_after_secs(1);
    match fault {
        Fault::Status(status, n) => h.simulator.fail_next(target, status, n),
        Fault::StatusAfterApply(status, n) => h.simulator.fail_next_after_apply(target, status, n),
        Fault::Hang => h.simulator.hang_next(target, 1),
        Fault::HangAfterApply => h.simulator.hang_next_after_apply(target, 1),
    }
    let w = workshop(10);
    let ada = user(&h.state, "ada").await;
    let result = claim(&h.state, &ada, &w, false, now()).await;
    let keys = h.simulator.keys();
    assert!(h.simulator.guardrails().len() <= 1, "{target} {fault:?}: at most one guardrail");
    match result {
        Ok(row) => {
            assert_eq!(keys.len(), 1, "{target} {fault:?}: exactly one key");
            assert_eq!(
                row.or_key_hash.as_deref(),
                Some(keys[0].info.hash.as_str()),
                "{target} {fault:?}: the stored key is the live one"
            );
            // A row marked bound is bound. (An assignment applied but answered with an error leaves
            // the row unbound while OpenRouter has it: the admin's retry is idempotent.)
            if row.guardrail_attached_at.is_some() {
                assert!(keys[0].guardrail_id.is_some(), "{target} {fault:?}: bound row, unbound key");
            }
            assert_eq!(
                chat_status(&h.base_url, &row.or_key_plaintext.unwrap()).await,
                200,
                "{target} {fault:?}: the key works"
            );
            if row.guardrail_attached_at.is_some() {
                Outcome::Bound
            } else {
                Outcome::Unbound
            }
        }
        Err(e) => {
            assert_eq!(e, ClaimError::Busy, "{target} {fault:?}");
            assert_eq!(keys.len(), 0, "{target} {fault:?}: no key at all");
            assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 0, "{target} {fault:?}: slot released");
            Outcome::TryAgain
        }
    }
}

/// Each call of the first claim (find guardrail, create guardrail, create key, assign) under
/// each fault: a passing fault is retried away; a lasting one ends in one key or none, never two.
#[tokio::test]
async fn fault_matrix_never_two_keys() {
    use Fault::*;
    use Outcome::*;
    let calls = [
        ("GET ^/guardrails$", TryAgain, TryAgain),
        // The guardrail made by an attempt whose answer was lost is found by name and used.
        ("POST ^/guardrails$", TryAgain, Bound),
        ("POST ^/keys$", TryAgain, TryAgain),
        ("POST /assignments/keys$", Unbound, Unbound),
    ];
    let mut table = Vec::new();
    for (target, lasting, lasting_after_apply) in calls {
        let cases = [
            (Status(429, 1), Bound),
            (Status(500, 1), Bound),
            (StatusAfterApply(500, 1), Bound),
            (Hang, Bound),
            (HangAfterApply, Bound),
            (Status(500, 10), lasting),
            (StatusAfterApply(502, 10), lasting_after_apply),
        ];
        for (fault, expected) in cases {
            let outcome = run_fault(target, fault).await;
            table.push(format!("{target:<26} {:<24} -> {outcome:?}", format!("{fault:?}")));
            assert_eq!(outcome, expected, "{target} {fault:?}");
        }
    }
    println!("{}", table.join("\n"));
}

#[tokio::test]
async fn connection_refused_is_try_again_with_nothing_written() {
    let (store, _db) = support::db::sqlite_store().await;
    // Nothing listens on port 9 of loopback.
    let state = state_for(store, "http://127.0.0.1:9/api/v1");
    let ada = user(&state, "ada").await;
    assert_eq!(claim(&state, &ada, &workshop(10), false, now()).await.unwrap_err(), ClaimError::Busy);
    assert!(state.store.attendance(&ada.user_id, "flow").await.unwrap().is_none());
    assert_eq!(state.store.claimed_count("flow").await.unwrap(), 0);
}

/// After a claim that ended in "try again": no key at OpenRouter, no row, no slot taken.
async fn assert_nothing_left(h: &Harness, attendee: &SessionUser, context: &str) {
    assert_eq!(h.simulator.key_count(), 0, "{context}: no key at OpenRouter");
    assert!(h.state.store.attendance(&attendee.user_id, "flow").await.unwrap().is_none(), "{context}: no row");
    assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 0, "{context}: no slot taken");
}

/// A real database fault on the write that saves the key (a trigger raises on the UPDATE that
/// sets the key hash), on SQLite and Postgres: OpenRouter created the key, the database refused
/// it. The attendee is told something went wrong (never that they have a key), the new key is
/// deleted at OpenRouter and the slot given back; once the database takes writes again the same
/// attendee claims and gets exactly one working key.
#[tokio::test]
async fn a_refused_save_deletes_the_new_key_and_gives_the_slot_back() {
    for (store, db) in support::db::both_databases().await {
        let name = db.name;
        let h = support::flow::harness_on(store).await;
        let w = workshop(10);
        let ada = user(&h.state, "ada").await;
        db.refuse_setting("or_key_hash").await;

        assert_eq!(
            claim(&h.state, &ada, &w, false, now()).await.unwrap_err(),
            ClaimError::Internal { reference: String::new() },
            "{name}"
        );
        let created = h.simulator.request_log().iter().filter(|r| *r == "POST /keys").count();
        assert_eq!(created, 1, "{name}: the key had been created");
        assert_nothing_left(&h, &ada, &format!("{name}: the key is deleted, not left enabled")).await;

        db.allow_setting("or_key_hash").await;
        let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
        let keys = h.simulator.keys();
        assert_eq!(keys.len(), 1, "{name}: exactly one key");
        assert_eq!(row.or_key_hash.as_deref(), Some(keys[0].info.hash.as_str()), "{name}");
        assert!(row.is_bound() && keys[0].guardrail_id.is_some(), "{name}: bound");
        assert_eq!(chat_status(&h.base_url, &row.or_key_plaintext.unwrap()).await, 200, "{name}: the key works");
        assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 1, "{name}");
    }
}

/// The save is refused and OpenRouter refuses to delete the unsaved key too: the attendee is
/// still only told to try again; the key stays enabled until the background's orphan check
/// (after its grace period, here reached by ageing the key's creation time) disables it.
#[tokio::test]
async fn an_unsaved_key_that_cannot_be_deleted_is_disabled_by_the_orphan_check() {
    use app::background::{orphans::GRACE, run_once};
    let (store, db) = support::db::sqlite_store().await;
    let h = support::flow::harness_on(store).await;
    let db = support::db::TestDb::sqlite(db);
    let w = workshop(10);
    let ada = user(&h.state, "ada").await;
    db.refuse_setting("or_key_hash").await;
    h.simulator.fail_next("DELETE ^/keys/", 500, 10);

    assert_eq!(
        claim(&h.state, &ada, &w, false, now()).await.unwrap_err(),
        ClaimError::Internal { reference: String::new() }
    );
    h.simulator.clear_faults();
    let orphan = h.simulator.keys().pop().expect("the undeletable key");
    assert!(!orphan.info.disabled);
    assert!(h.state.store.attendance(&ada.user_id, "flow").await.unwrap().is_none());

    // Within the grace period the orphan check leaves it alone (a claim may still be saving it).
    assert_eq!(run_once(&h.state, &[&w], now()).await.unwrap().orphans_disabled, 0);
    // Ten minutes later, as far as the key's age is concerned.
    h.simulator.set_key_created_at(&orphan.info.hash, now() - GRACE - Duration::seconds(1));
    assert_eq!(run_once(&h.state, &[&w], now()).await.unwrap().orphans_disabled, 1);
    assert!(h.simulator.keys().iter().all(|k| k.info.disabled), "the orphan is disabled");
    assert_eq!(h.state.store.orphans_fixed("flow").await.unwrap(), 1);

    db.allow_setting("or_key_hash").await;
    let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
    assert_eq!(chat_status(&h.base_url, &row.or_key_plaintext.unwrap()).await, 200);
    let enabled: Vec<_> = h.simulator.keys().into_iter().filter(|k| !k.info.disabled).collect();
    assert_eq!(enabled.len(), 1);
    assert_eq!(row.or_key_hash.as_deref(), Some(enabled[0].info.hash.as_str()));
}

/// The reservation vanishes while its key is being created (released as stale by the background,
/// or forgotten by a Postgres crash with its asynchronous commit): the save finds no reserved row,
/// so the new key, which nobody will be shown, is deleted at once and the attendee told to try
/// again. The retry mints exactly one working key. Both databases.
#[tokio::test]
async fn a_reservation_gone_before_its_key_is_saved_deletes_the_key() {
    for (store, db) in support::db::both_databases().await {
        let name = db.name;
        let h = support::flow::harness_on(store).await;
        let w = workshop(10);
        let ada = user(&h.state, "ada").await;
        h.simulator.apply_fault_spec("POST ^/keys$=latency 150ms").unwrap();

        let claiming = tokio::spawn({
            let (state, ada, w) = (h.state.clone(), ada.clone(), w.clone());
            async move { claim(&state, &ada, &w, false, now()).await }
        });
        // The create call has reached OpenRouter (it answers after 150 ms): the slot goes away.
        while h.simulator.requests_matching("POST", "/keys") == 0 {
            tokio::time::sleep(StdDuration::from_millis(5)).await;
        }
        h.state.store.release_claim(&ada.user_id, "flow").await.unwrap();

        assert_eq!(claiming.await.unwrap().unwrap_err(), ClaimError::Internal { reference: String::new() }, "{name}");
        assert_eq!(h.simulator.requests_matching("DELETE", "/keys/"), 1, "{name}: the new key is deleted");
        assert_nothing_left(&h, &ada, name).await;

        h.simulator.clear_faults();
        let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
        assert_eq!(h.simulator.key_count(), 1, "{name}: exactly one key");
        assert_eq!(chat_status(&h.base_url, &row.or_key_plaintext.unwrap()).await, 200, "{name}: the key works");
    }
}

/// The key's save commits, but its answer is lost on the way back (a proxy in front of Postgres
/// swallows it and cuts the connection): the claim reads the row back, finds its key there and
/// goes on. One key, bound, shown to the attendee; nothing deleted.
#[tokio::test]
async fn a_save_whose_answer_is_lost_is_found_committed_and_the_claim_goes_on() {
    use support::lost_answer::{postgres_addr, via, LosingProxy};
    let (_direct, db) = support::db::postgres_store().await;
    let proxy = LosingProxy::start(postgres_addr(&db.url())).await;
    let store = app::store::connect(&via(&db.url(), proxy.addr)).await.unwrap();
    let h = support::flow::harness_on(store).await;
    let w = workshop(10);
    let ada = user(&h.state, "ada").await;
    // Only the save carries a key's plaintext to the database.
    proxy.lose_answer_to(b"sk-or-v1-");

    let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
    assert_eq!(proxy.answers_lost(), 1, "the save's answer was lost");
    let keys = h.simulator.keys();
    assert_eq!(keys.len(), 1, "the key was kept");
    assert_eq!(row.or_key_hash.as_deref(), Some(keys[0].info.hash.as_str()));
    assert!(row.is_bound() && keys[0].guardrail_id.is_some());
    assert_eq!(chat_status(&h.base_url, &row.or_key_plaintext.unwrap()).await, 200);
    assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 1);
}

/// The claim's assignment fails, so the key is saved unbound with a retry due; the background's
/// retry is taken by OpenRouter but the database refuses to mark the row bound. The row stays
/// unbound; once the database takes the write, the next round assigns again (idempotent) and
/// records it. One working key throughout.
#[tokio::test]
async fn a_refused_bound_mark_in_the_background_is_recorded_by_the_next_round() {
    use app::background::run_once;
    for (store, db) in support::db::both_databases().await {
        let name = db.name;
        let h = support::flow::harness_on(store).await;
        let w = workshop(10);
        let ada = user(&h.state, "ada").await;
        h.simulator.fail_next("/assignments/keys", 500, 10);
        let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
        assert!(!row.is_bound() && row.bind_attempts == 1, "{name}: saved unbound, one attempt made");
        let retry_at = row.next_bind_at.expect("a retry is due");
        h.simulator.clear_faults();

        db.refuse_setting("guardrail_attached_at").await;
        assert_eq!(run_once(&h.state, &[&w], retry_at).await.unwrap().rebound, 0, "{name}");
        let keys = h.simulator.keys();
        assert_eq!(keys.len(), 1, "{name}");
        assert!(keys[0].guardrail_id.is_some(), "{name}: bound at OpenRouter");
        let stored = h.state.store.attendance(&ada.user_id, "flow").await.unwrap().unwrap();
        assert!(!stored.is_bound(), "{name}: the row could not be marked bound");
        assert_eq!(chat_status(&h.base_url, row.or_key_plaintext.as_deref().unwrap()).await, 200, "{name}");

        db.allow_setting("guardrail_attached_at").await;
        let later = stored.next_bind_at.expect("another retry is due");
        assert_eq!(run_once(&h.state, &[&w], later).await.unwrap().rebound, 1, "{name}");
        assert!(h.state.store.attendance(&ada.user_id, "flow").await.unwrap().unwrap().is_bound(), "{name}");
        assert_eq!(h.simulator.key_count(), 1, "{name}: still one key");
    }
}

/// Two server replicas (separate processes' state, one database) racing at the first claim.
#[tokio::test]
async fn two_replicas_racing_first_claims_create_one_guardrail() {
    for (store_a, store_b, _guards) in replica_stores().await {
        let spawned = Simulator::new(MGMT_KEY).spawn().await.unwrap();
        spawned.simulator.set_latency(StdDuration::from_millis(30));
        let (a, b) = (state_for(store_a, &spawned.base_url), state_for(store_b, &spawned.base_url));
        let w = workshop(10);
        let mut tasks = Vec::new();
        for (i, state) in [a.clone(), b.clone(), a, b].into_iter().enumerate() {
            let u = user(&state, &format!("r{i}")).await;
            let w = w.clone();
            tasks.push(tokio::spawn(async move { claim(&state, &u, &w, false, now()).await }));
        }
        for task in tasks {
            assert!(task.await.unwrap().unwrap().guardrail_attached_at.is_some());
        }
        assert_eq!(spawned.simulator.guardrails().len(), 1);
        assert_eq!(spawned.simulator.key_count(), 4);
    }
}

/// Two stores on one database, for SQLite (one file) and Postgres.
async fn replica_stores() -> Vec<(Arc<dyn app::store::Store>, Arc<dyn app::store::Store>, Box<dyn std::any::Any>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/replicas.db", dir.path().display());
    let sqlite_a = app::store::connect(&url).await.unwrap();
    let sqlite_b = app::store::connect(&url).await.unwrap();
    let (pg_a, pg_guard) = support::db::postgres_store().await;
    let pg_b = app::store::connect(&pg_guard.url()).await.unwrap();
    vec![(sqlite_a, sqlite_b, Box::new(dir)), (pg_a, pg_b, Box::new(pg_guard))]
}

#[tokio::test]
async fn changed_models_patch_the_guardrail_after_a_restart() {
    let h = harness().await;
    let before = workshop(10);
    let ada = user(&h.state, "ada").await;
    claim(&h.state, &ada, &before, false, now()).await.unwrap();

    // A deploy changes the YAML: one model swapped, a higher cap, a daily reset.
    let mut after = before.clone();
    after.openrouter.models[1].id = "mistralai/mistral-small-3.2-24b-instruct".into();
    after.openrouter.guardrail.cap_usd = 2000.into();
    after.openrouter.guardrail.reset_interval = app::workshops::ResetInterval::Daily;
    let restarted = state_for(h.state.store.clone(), h.state.openrouter.base_url());
    let id = restarted.store.guardrail_id("flow").await.unwrap().unwrap();
    app::guardrail::repair_drift(&restarted, &after, &id).await;

    let guardrail = h.simulator.guardrails().into_iter().next().unwrap();
    assert_eq!(guardrail.id, id, "patched in place, not replaced");
    assert_eq!(
        guardrail.allowed_models.unwrap(),
        vec!["openai/gpt-4o-mini".to_string(), "mistralai/mistral-small-3.2-24b-instruct".to_string()]
    );
    assert_eq!(guardrail.limit_usd, Some(2000.0));
    assert_eq!(guardrail.reset_interval, Some(openrouter::ResetInterval::Daily));

    // Checked once per process: the next claim costs create + assign only.
    let requests = h.simulator.request_count();
    let bob = user(&restarted, "bob").await;
    claim(&restarted, &bob, &after, false, now()).await.unwrap();
    assert_eq!(h.simulator.request_count() - requests, 2);
}

/// A request died after OpenRouter created its key but before saving it. The next claim takes
/// the stale reservation over, deletes the orphan (its plaintext is lost) and mints one key.
#[tokio::test]
async fn taking_over_a_dead_claim_removes_its_orphaned_key() {
    let h = harness().await;
    let w = workshop(10);
    let ada = user(&h.state, "ada").await;
    let dead = app::store::NewReservation {
        user_id: ada.user_id.clone(),
        workshop_slug: "flow".into(),
        key_label: "flow-deadrequest".into(),
        limit_usd: 2.into(),
        expires_at: w.key_expires_at(),
        now: now() - Duration::minutes(10),
    };
    h.state.store.reserve_claim(&dead, w.pool_size(), Duration::minutes(2)).await.unwrap();
    let orphan_request = openrouter::CreateKey { name: "flow-deadrequest".into(), ..Default::default() };
    let orphan = h.state.openrouter.create_key(&orphan_request).await.unwrap();

    let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
    let keys = h.simulator.keys();
    assert_eq!(keys.len(), 1, "the orphan is gone, one key remains");
    assert_ne!(keys[0].info.hash, orphan.data.hash);
    assert_eq!(row.or_key_hash.as_deref(), Some(keys[0].info.hash.as_str()));
    assert_eq!(row.key_label, "flow-deadrequest");
    assert_eq!(chat_status(&h.base_url, &row.or_key_plaintext.unwrap()).await, 200);
    assert_eq!(h.state.store.claimed_count("flow").await.unwrap(), 1);
}

/// 250 keys in the account (130 of them ours): the sync reads them in ⌈250/100⌉ = 3 calls and
/// stores the usage OpenRouter reports for exactly our 130 rows.
#[tokio::test]
async fn usage_sync_pages_through_every_key_and_stores_ours() {
    use app::background::sync_usage;
    use openrouter::CreateKey;

    let h = harness().await;
    let w = workshop(500);
    let mut ours = Vec::new();
    for i in 0..130 {
        let row = claim(&h.state, &user(&h.state, &format!("sync{i}")).await, &w, false, now()).await.unwrap();
        ours.push(row);
    }
    for i in 0..120 {
        let other = CreateKey { name: format!("someone-elses-{i}"), ..CreateKey::default() };
        h.state.openrouter.create_key(&other).await.unwrap();
    }
    // Three attendees have spent something.
    for (row, spent) in ours.iter().zip([0.25, 1.5, 0.0001]) {
        assert!(h.simulator.set_key_usage(row.or_key_hash.as_deref().unwrap(), spent));
    }

    let calls_before = h.simulator.requests_matching("GET", "/keys");
    let report = sync_usage(&h.state, &[&w], now()).await.unwrap();
    assert_eq!(h.simulator.requests_matching("GET", "/keys") - calls_before, 3);
    assert_eq!(report.list_calls, 3);
    assert_eq!(report.keys_seen, 250);
    assert_eq!(report.rows_updated, 130);

    let stored = |i: usize| {
        let (state, user_id) = (h.state.clone(), ours[i].user_id.clone());
        async move { state.store.attendance(&user_id, "flow").await.unwrap().unwrap() }
    };
    assert_eq!(stored(0).await.usage_usd, rust_decimal::Decimal::new(25, 2));
    assert_eq!(stored(1).await.usage_usd, rust_decimal::Decimal::new(15, 1));
    assert_eq!(stored(2).await.usage_usd, rust_decimal::Decimal::new(1, 4));
    assert_eq!(stored(3).await.usage_usd, rust_decimal::Decimal::ZERO);
    assert!(stored(3).await.usage_synced_at.is_some(), "a key that spent nothing is synced too");
}

#[test]
fn only_workshops_that_can_spend_are_synced() {
    use app::background::workshops_to_sync;
    // The demo workshop (demo mode): claims open 2026-01-01 07:30 UTC, it ends 2030-12-31 17:00 UTC.
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let synced = |now| workshops_to_sync(app::workshops::all(true), now).iter().any(|w| w.slug == "demo");
    assert!(!synced(at("2026-01-01T07:29:00Z")), "before claims open");
    assert!(synced(at("2026-01-01T07:30:00Z")));
    assert!(synced(at("2030-12-31T17:00:00Z") + Duration::hours(23)), "within a day after the end");
    assert!(!synced(at("2030-12-31T17:00:00Z") + Duration::hours(25)));
}
