//! What the admin pages show, computed from stored rows (never from a live OpenRouter call).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{AdminRow, AdminSummary, AdminWorkshop};
use crate::state::AppState;
use crate::store::{Attendance, Attendee, ClaimStatus, StoreError};
use crate::workshops::Workshop;

pub async fn workshop(state: &AppState, workshop: &Workshop, now: DateTime<Utc>) -> Result<AdminWorkshop, StoreError> {
    let stored = state.store.workshop_attendance(&workshop.slug).await?;
    let rows: Vec<AdminRow> = stored.iter().map(|(attendee, row)| admin_row(attendee, row)).collect();
    let pauses = state.store.claims_pauses(&workshop.slug).await?;
    let summary = AdminSummary {
        slug: workshop.slug.clone(),
        name: workshop.name.clone(),
        event: workshop.event.clone(),
        window: workshop.window_state(now),
        paused_by: pauses.iter().find(|p| !p.everywhere).map(|p| p.paused_by.clone()),
        paused_everywhere_by: pauses.iter().find(|p| p.everywhere).map(|p| p.paused_by.clone()),
        claimed: state.store.claimed_count(&workshop.slug).await?,
        pool_size: workshop.pool_size(),
        spent_usd: rows.iter().map(|r| r.usage_usd).sum::<Decimal>(),
        cap_usd: workshop.openrouter.guardrail.cap_usd,
        unbound: count(&rows, |r| r.minted && !r.bound && !r.disabled),
        disabled: count(&rows, |r| r.disabled),
        orphans_fixed: state.store.orphans_fixed(&workshop.slug).await?,
        last_synced_at: rows.iter().filter_map(|r| r.synced_at).max(),
    };
    Ok(AdminWorkshop { summary, rows })
}

/// Who paused claims in every workshop, if anyone.
pub async fn paused_everywhere_by(state: &AppState) -> Result<Option<String>, StoreError> {
    Ok(state.store.claims_pause(crate::store::EVERY_WORKSHOP).await?.map(|p| p.paused_by))
}

fn count(rows: &[AdminRow], f: impl Fn(&AdminRow) -> bool) -> u32 {
    rows.iter().filter(|r| f(r)).count().try_into().unwrap_or(u32::MAX)
}

fn admin_row(attendee: &Attendee, row: &Attendance) -> AdminRow {
    AdminRow {
        user_id: row.user_id.clone(),
        name: attendee.profile.display_name.clone(),
        email: attendee.profile.email.clone(),
        provider: attendee.profile.auth_provider.clone(),
        claimed_at: row.reserved_at,
        minted: row.status == ClaimStatus::Minted,
        usage_usd: row.total_usage_usd(),
        limit_usd: row.total_limit_usd(),
        expires_at: row.expires_at,
        bound: row.is_bound(),
        disabled: row.disabled_at.is_some(),
        synced_at: row.usage_synced_at,
        key_label: row.key_label.clone(),
    }
}
