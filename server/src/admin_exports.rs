//! CSV downloads of the admin page: plain GET routes (a browser download, not a server function),
//! behind the same check as every admin page: 404 for anyone who may not run the workshop.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use app::admin::{access, export};
use app::auth::SessionUser;
use app::signed_in::SignedIn;
use app::state::AppState;
use app::store::StoreError;
use app::workshops::Workshop;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/w/{slug}/attendance.csv", get(attendance))
        .route("/admin/w/{slug}/leads.csv", get(leads))
}

async fn attendance(State(state): State<AppState>, Path(slug): Path<String>, signed_in: Option<SignedIn>) -> Response {
    let Some((user, workshop)) = allowed(&state, &slug, signed_in).await else { return not_found() };
    match state.store.workshop_attendance(&workshop.slug).await {
        Ok(rows) => download(&user.email, workshop, "attendance", rows.len(), export::attendance_csv(&rows)),
        Err(e) => storage_failed(e),
    }
}

async fn leads(State(state): State<AppState>, Path(slug): Path<String>, signed_in: Option<SignedIn>) -> Response {
    let Some((user, workshop)) = allowed(&state, &slug, signed_in).await else { return not_found() };
    match state.store.workshop_leads(&workshop.slug).await {
        Ok(leads) => download(&user.email, workshop, "leads", leads.len(), export::leads_csv(&leads)),
        Err(e) => storage_failed(e),
    }
}

/// The signed-in user and the workshop, if they may run it.
async fn allowed(
    state: &AppState,
    slug: &str,
    signed_in: Option<SignedIn>,
) -> Option<(SessionUser, &'static Workshop)> {
    let user = signed_in?.0.user;
    let workshop = state.workshop(slug)?;
    access::may_run(state, &user, workshop).then_some((user, workshop))
}

fn storage_failed(e: StoreError) -> Response {
    tracing::warn!(error = %e, "reading rows for a CSV export failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "Could not read the claims; try again.").into_response()
}

fn download(admin: &str, workshop: &Workshop, what: &str, rows: usize, csv: String) -> Response {
    tracing::info!(workshop = %workshop.slug, what, admin, rows, "CSV exported");
    let filename = format!("attachment; filename=\"{}-{what}.csv\"", workshop.slug);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, filename),
            // Personal data: never kept by a shared cache or the browser's.
            (header::CACHE_CONTROL, "no-store, private".to_string()),
        ],
        csv,
    )
        .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found").into_response()
}
