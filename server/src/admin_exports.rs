//! CSV downloads of the admin page: plain GET routes (a browser download, not a server function),
//! behind the same check as every admin page: 404 for anyone who may not run the workshop.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use axum_extra::extract::CookieJar;

use app::admin::{access, export};
use app::auth::session::COOKIE_NAME;
use app::state::AppState;
use app::store::{Attendance, Attendee};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/w/{slug}/attendance.csv", get(attendance))
        .route("/admin/w/{slug}/leads.csv", get(leads))
}

async fn attendance(state: State<AppState>, slug: Path<String>, jar: CookieJar) -> Response {
    download(state, slug, jar, "attendance", export::attendance_csv).await
}

async fn leads(state: State<AppState>, slug: Path<String>, jar: CookieJar) -> Response {
    download(state, slug, jar, "leads", export::leads_csv).await
}

async fn download(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    what: &str,
    to_csv: fn(&[(Attendee, Attendance)]) -> String,
) -> Response {
    let user = jar.get(COOKIE_NAME).and_then(|c| state.session.verify(c.value()));
    let workshop = state.workshop(&slug);
    let (Some(user), Some(workshop)) = (user, workshop) else { return not_found() };
    if !access::may_run(&state, &user, workshop) {
        return not_found();
    }
    let rows = match state.store.workshop_attendance(&workshop.slug).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "reading rows for a CSV export failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Could not read the claims; try again.").into_response();
        }
    };
    tracing::info!(workshop = %workshop.slug, what, admin = %user.email, rows = rows.len(), "CSV exported");
    let filename = format!("attachment; filename=\"{}-{what}.csv\"", workshop.slug);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, filename),
            // Personal data: never kept by a shared cache or the browser's.
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        to_csv(&rows),
    )
        .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found").into_response()
}
