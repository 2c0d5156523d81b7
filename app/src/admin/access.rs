//! Who may see which workshop's admin pages: `ADMIN_EMAILS` see all, a workshop's `organisers`
//! see that workshop. The check runs on the server for every page load and every action.

use super::AdminError;
use crate::auth::SessionUser;
use crate::state::AppState;
use crate::workshops::Workshop;

/// Whether `user` may run `workshop`'s admin page.
pub fn may_run(state: &AppState, user: &SessionUser, workshop: &Workshop) -> bool {
    is_admin(state, user) || workshop.has_organiser(&user.email)
}

pub fn is_admin(state: &AppState, user: &SessionUser) -> bool {
    let email = user.email.trim().to_lowercase();
    state.admin_emails.contains(&email)
}

/// The signed-in user and the workshops they may run; [`AdminError::NotFound`] when there are
/// none.
pub async fn require_any(state: &AppState) -> Result<(SessionUser, Vec<&'static Workshop>), AdminError> {
    let user = crate::signed_in::current_user(state).await.ok_or(AdminError::NotFound)?;
    let workshops: Vec<_> = state.workshops().iter().filter(|w| may_run(state, &user, w)).collect();
    if workshops.is_empty() {
        return Err(AdminError::NotFound);
    }
    Ok((user, workshops))
}

/// The signed-in user if they are one of `ADMIN_EMAILS`; otherwise [`AdminError::NotFound`].
pub async fn require_admin(state: &AppState) -> Result<SessionUser, AdminError> {
    match crate::signed_in::current_user(state).await {
        Some(user) if is_admin(state, &user) => Ok(user),
        _ => Err(AdminError::NotFound),
    }
}

/// The signed-in user and the workshop `slug`, if they may run it; otherwise
/// [`AdminError::NotFound`], whether or not the workshop exists.
pub async fn require_workshop(state: &AppState, slug: &str) -> Result<(SessionUser, &'static Workshop), AdminError> {
    let user = crate::signed_in::current_user(state).await.ok_or(AdminError::NotFound)?;
    match state.workshop(slug) {
        Some(workshop) if may_run(state, &user, workshop) => Ok((user, workshop)),
        _ => Err(AdminError::NotFound),
    }
}
