//! What the admin pages show, computed from stored rows (never from a live OpenRouter call).
//!
//! A workshop's report is computed once and shared by every admin page load and 3-second poll
//! until the store changes ([`Store::changes`](crate::store::Store::changes)), the claim window
//! moves on, or [`MAX_AGE`] passes (writes by other replicas on the same database are not
//! counted here). Twenty organisers polling a 300-row table then read the rows once, not twenty
//! times every three seconds. When a report goes out of date, one request reads the rows again
//! and the others arriving meanwhile wait for its result: under load, a page load in flight per
//! connection would otherwise each read and hold the 300 rows at once (docs/benchmarks.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{AdminRow, AdminSummary, AdminWorkshop};
use crate::store::{Attendance, Attendee, ClaimStatus, Store, StoreError};
use crate::workshops::Workshop;

/// How long a report is shown without reading the database again, however quiet this process's
/// store is: the delay before another replica's writes appear.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// A workshop's report and its fingerprint (what the poll compares).
#[derive(Debug)]
pub struct Report {
    pub data: AdminWorkshop,
    pub version: String,
}

/// The latest report of each workshop, with the store's change count it was read after.
pub struct ReportCache {
    max_age: Duration,
    reports: Mutex<HashMap<String, Cached>>,
    /// Per workshop, held by the one request reading its rows.
    reading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Default for ReportCache {
    fn default() -> Self {
        ReportCache::with_max_age(MAX_AGE)
    }
}

struct Cached {
    changes: u64,
    computed_at: Instant,
    report: Arc<Report>,
}

impl ReportCache {
    pub fn with_max_age(max_age: Duration) -> Self {
        ReportCache { max_age, reports: Mutex::default(), reading: Mutex::default() }
    }

    fn get(&self, workshop: &Workshop, changes: u64, now: DateTime<Utc>) -> Option<Arc<Report>> {
        let cache = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        let cached = cache.get(&workshop.slug)?;
        // A report read after more writes than the caller has seen is newer, so current too.
        let current = cached.changes >= changes
            && cached.computed_at.elapsed() < self.max_age
            && cached.report.data.summary.window == workshop.window_state(now);
        current.then(|| cached.report.clone())
    }

    fn put(&self, slug: &str, changes: u64, report: Arc<Report>) {
        let mut cache = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        // A slower reader that started before a newer one does not replace its result.
        if cache.get(slug).is_some_and(|cached| cached.changes > changes) {
            return;
        }
        cache.insert(slug.to_string(), Cached { changes, computed_at: Instant::now(), report });
    }

    fn reading(&self, slug: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut reading = self.reading.lock().unwrap_or_else(|e| e.into_inner());
        reading.entry(slug.to_string()).or_default().clone()
    }
}

/// The workshop's report: the one `reports` shares while it is current, otherwise read anew
/// from `store`.
pub async fn workshop(
    store: &dyn Store,
    reports: &ReportCache,
    workshop: &Workshop,
    now: DateTime<Utc>,
) -> Result<Arc<Report>, StoreError> {
    // Read before the rows: a write that ends while they are read makes the count move on.
    let changes = store.changes();
    if let Some(report) = reports.get(workshop, changes, now) {
        return Ok(report);
    }
    let reading = reports.reading(&workshop.slug);
    let _turn = reading.lock().await;
    // The request that read while this one waited may have left a current report.
    if let Some(report) = reports.get(workshop, changes, now) {
        return Ok(report);
    }
    let changes = store.changes();
    let data = read(store, workshop, now).await?;
    let report = Arc::new(Report { version: data.version(), data });
    reports.put(&workshop.slug, changes, report.clone());
    Ok(report)
}

async fn read(store: &dyn Store, workshop: &Workshop, now: DateTime<Utc>) -> Result<AdminWorkshop, StoreError> {
    let stored = store.workshop_attendance(&workshop.slug).await?;
    let rows: Vec<AdminRow> = stored.iter().map(|(attendee, row)| admin_row(attendee, row)).collect();
    let pauses = store.claims_pauses(&workshop.slug).await?;
    let summary = AdminSummary {
        slug: workshop.slug.clone(),
        name: workshop.name.clone(),
        event: workshop.event.clone(),
        window: workshop.window_state(now),
        paused_by: pauses.iter().find(|p| !p.everywhere).map(|p| p.paused_by.clone()),
        paused_everywhere_by: pauses.iter().find(|p| p.everywhere).map(|p| p.paused_by.clone()),
        claimed: store.claimed_count(&workshop.slug).await?,
        pool_size: workshop.pool_size(),
        spent_usd: rows.iter().map(|r| r.usage_usd).sum::<Decimal>(),
        cap_usd: workshop.openrouter.guardrail.cap_usd,
        unbound: count(&rows, |r| r.minted && !r.bound && !r.disabled),
        disabled: count(&rows, |r| r.disabled),
        orphans_fixed: store.orphans_fixed(&workshop.slug).await?,
        last_synced_at: rows.iter().filter_map(|r| r.synced_at).max(),
    };
    Ok(AdminWorkshop { summary, rows })
}

/// Who paused claims in every workshop, if anyone.
pub async fn paused_everywhere_by(store: &dyn Store) -> Result<Option<String>, StoreError> {
    Ok(store.claims_pause(crate::store::EVERY_WORKSHOP).await?.map(|p| p.paused_by))
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
