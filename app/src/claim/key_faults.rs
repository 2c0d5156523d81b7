//! Demo mode: make an attendee's key fail the way a real one can, to try "Test my key" on each
//! failure. Expiry and spend go through the simulator's controls (the API cannot set them);
//! revoking and restricting models use the real management API calls an admin would make.

use chrono::Utc;
use openrouter::{CreateGuardrail, UpdateKey};
use sha2::{Digest, Sha256};

use crate::state::AppState;
use crate::store::Attendance;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFault {
    Expired,
    OverBudget,
    ModelNotAllowed,
    Revoked,
    /// Unassigned from the workshop's guardrail, as if the assignment had failed during the claim.
    Unbound,
}

impl std::str::FromStr for KeyFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "expired" => Ok(KeyFault::Expired),
            "over-budget" => Ok(KeyFault::OverBudget),
            "model-not-allowed" => Ok(KeyFault::ModelNotAllowed),
            "revoked" => Ok(KeyFault::Revoked),
            "unbound" => Ok(KeyFault::Unbound),
            _ => Err("unknown fault: expired, over-budget, model-not-allowed, revoked or unbound".to_string()),
        }
    }
}

/// A model id no workshop lists: a guardrail allowing only it refuses every workshop model.
const NO_WORKSHOP_MODEL: &str = "openrouter/demo-none";

/// Breaks the key of `row` (which must have one).
pub async fn inject(state: &AppState, row: &Attendance, fault: KeyFault) -> Result<(), String> {
    let key = row.or_key_plaintext.as_deref().ok_or("the row has no key")?;
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    let simulator = || state.simulator.as_ref().ok_or("this server talks to the real OpenRouter, not the simulator");
    match fault {
        KeyFault::Expired => {
            simulator()?.set_key_expires_at(&hash, Some(Utc::now() - chrono::Duration::seconds(1)));
        }
        KeyFault::OverBudget => {
            let simulator = simulator()?;
            let limit = simulator.keys().into_iter().find(|k| k.info.hash == hash).and_then(|k| k.info.limit);
            simulator.set_key_usage(&hash, limit.ok_or("the key has no limit")?);
        }
        KeyFault::Revoked => {
            let disable = UpdateKey { disabled: Some(true), ..UpdateKey::default() };
            state.openrouter.update_key(&hash, &disable).await.map_err(|e| e.to_string())?;
        }
        KeyFault::ModelNotAllowed => {
            let restricted = CreateGuardrail {
                name: format!("demo-restricted-{}", &hash[..12]),
                allowed_models: Some(vec![NO_WORKSHOP_MODEL.into()]),
                ..CreateGuardrail::default()
            };
            let guardrail = state.openrouter.create_guardrail(&restricted).await.map_err(|e| e.to_string())?;
            // A key holds one guardrail: this replaces the workshop's.
            state.openrouter.assign_keys_to_guardrail(&guardrail.id, &[hash]).await.map_err(|e| e.to_string())?;
        }
        KeyFault::Unbound => {
            let guardrail = row.or_guardrail_id.as_deref().ok_or("the key is not bound")?;
            state.openrouter.unassign_keys(guardrail, &[hash]).await.map_err(|e| e.to_string())?;
            // As after a failed first attempt: the background retries in 30 s.
            let next = crate::guardrail::next_bind_attempt_at(Utc::now(), 1);
            state.store.mark_unbound(&row.user_id, &row.workshop_slug, next).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
