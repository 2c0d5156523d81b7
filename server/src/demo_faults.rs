//! Demo mode only: `POST /demo/key-fault` breaks the signed-in attendee's own key in one of the
//! ways a real key fails (expired, over budget, model not allowed, revoked), so that "Test my key"
//! can be tried on each. The route does not exist outside demo mode.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use app::auth::session::Session;
use app::claim::key_faults::{self, KeyFault};
use app::signed_in::SignedIn;
use app::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/demo/key-fault", post(break_key))
}

#[derive(Deserialize)]
struct FaultForm {
    slug: String,
    fault: String,
}

async fn break_key(
    State(state): State<AppState>,
    signed_in: Option<SignedIn>,
    Form(form): Form<FaultForm>,
) -> Response {
    let fault: KeyFault = match form.fault.parse() {
        Ok(fault) => fault,
        Err(problem) => return (StatusCode::BAD_REQUEST, problem).into_response(),
    };
    let Some(SignedIn(Session { user, .. })) = signed_in else {
        return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
    };
    let row = match state.store.attendance(&user.user_id, &form.slug).await {
        Ok(row) => row,
        Err(e) => {
            tracing::warn!(error = %e, "demo key fault: reading the row failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Could not read your key; try again.").into_response();
        }
    };
    let Some(row) = row.filter(|row| row.or_key_plaintext.is_some()) else {
        return (StatusCode::NOT_FOUND, "You have no key for this workshop.").into_response();
    };
    match key_faults::inject(&state, &row, fault).await {
        Ok(()) => Redirect::to(&format!("/w/{}", form.slug)).into_response(),
        Err(problem) => {
            // The detail may quote OpenRouter or the database: for the log only.
            tracing::warn!(%problem, "demo key fault failed");
            (StatusCode::CONFLICT, "Could not break your key that way; see the server log.").into_response()
        }
    }
}
