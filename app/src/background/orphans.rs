//! Orphaned keys: created at OpenRouter by a claim (or rotation) whose process died before the
//! key was saved. Nobody holds their plaintext, yet they could spend if it leaked from a log or a
//! proxy, so they are disabled and recorded for admins ("orphans fixed").

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use openrouter::{KeyInfo, UpdateKey};
use tracing::warn;

use super::SyncError;
use crate::claim::mint::STALE_RESERVATION;
use crate::state::AppState;
use crate::store::ClaimStatus;
use crate::workshops::Workshop;

/// A key younger than this may belong to a claim that is still saving it.
pub const GRACE: chrono::Duration = chrono::Duration::minutes(10);

/// Disables the enabled keys in `keys` named like the workshop's keys (`<prefix>-<10 random
/// characters>`, see `claim::mint::key_label`) that no row of any workshop knows and that are
/// older than [`GRACE`]. A stale reservation that named such a key gives its slot back.
/// Returns how many keys were disabled.
pub async fn disable_orphans(
    state: &AppState,
    workshop: &Workshop,
    keys: &[KeyInfo],
    now: DateTime<Utc>,
) -> Result<u32, SyncError> {
    let prefix = &workshop.openrouter.key_label_prefix;
    let candidates: Vec<&KeyInfo> =
        keys.iter().filter(|k| !k.disabled && is_key_name_of(prefix, &k.name) && older_than_grace(k, now)).collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let rows = state.store.workshop_attendance(&workshop.slug).await?;
    let ours: HashSet<&str> = rows.iter().filter_map(|(_, row)| row.or_key_hash.as_deref()).collect();
    let unknown: Vec<&KeyInfo> = candidates.into_iter().filter(|k| !ours.contains(k.hash.as_str())).collect();
    if unknown.is_empty() {
        return Ok(0); // the usual case: every key of the workshop is a row's
    }
    // Rotated-away keys, and any other workshop's keys, are known too.
    let known: HashSet<String> = state.store.known_key_hashes().await?.into_iter().collect();
    let mut disabled = 0;
    for key in unknown.into_iter().filter(|k| !known.contains(&k.hash)) {
        let reservation = rows
            .iter()
            .map(|(_, row)| row)
            .find(|row| row.status == ClaimStatus::Reserved && row.key_label == key.name);
        // Its claim may still be running: only a dead one's key is an orphan.
        if reservation.is_some_and(|row| now - row.reserved_at < STALE_RESERVATION) {
            continue;
        }
        state.openrouter.update_key(&key.hash, &UpdateKey { disabled: Some(true), ..UpdateKey::default() }).await?;
        state.store.record_orphan(&workshop.slug, &key.hash, &key.name, now).await?;
        if let Some(row) = reservation {
            state.store.release_stale_claim(&row.user_id, &workshop.slug, now - STALE_RESERVATION).await?;
        }
        warn!(workshop = %workshop.slug, key_label = %key.name, "disabled an orphaned key (created, never saved)");
        disabled += 1;
    }
    Ok(disabled)
}

/// `<prefix>-` then exactly the 10 lowercase letters and digits of `key_label`: another workshop's
/// prefix that merely starts with this one (`demo-small` for `demo`) leaves a `-` in the rest.
pub fn is_key_name_of(prefix: &str, name: &str) -> bool {
    name.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('-')).is_some_and(|random| {
        random.len() == crate::claim::mint::KEY_LABEL_RANDOM_CHARS
            && random.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

fn older_than_grace(key: &KeyInfo, now: DateTime<Utc>) -> bool {
    match DateTime::parse_from_rfc3339(&key.created_at) {
        Ok(created) => now - created.to_utc() >= GRACE,
        // OpenRouter always sends it; without it, age is unknown and the key is left alone.
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_key_name_of;

    #[test]
    fn key_names_belong_to_exactly_one_prefix() {
        assert!(is_key_name_of("demo", "demo-ab12cd34ef"));
        assert!(!is_key_name_of("demo", "demo-small-ab12cd34ef"), "another workshop's key");
        assert!(is_key_name_of("demo-small", "demo-small-ab12cd34ef"));
        assert!(!is_key_name_of("demo", "demo-ab12cd34e"), "too short");
        assert!(!is_key_name_of("demo", "demo-AB12CD34EF"), "not ours: labels are lowercase");
        assert!(!is_key_name_of("demo", "demox-ab12cd34ef"));
        assert!(!is_key_name_of("demo", "someone-elses"));
    }
}
