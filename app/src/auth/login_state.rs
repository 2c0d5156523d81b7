//! The short-lived login cookie: what the callback needs to finish one sign-in (OAuth `state`,
//! PKCE verifier, OIDC nonce, where to go next). Signed with the session secret, `__Host-` on
//! https (hence path `/`), and single-use: the callback records its id
//! (`Store::consume_login_state`).

use axum_extra::extract::cookie::Cookie;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::session::{time_duration, SessionKeys};

/// Over plain http; `__Host-minter_login` on https (see `SessionKeys::cookie_name`).
pub const COOKIE_NAME: &str = "minter_login";
const AUDIENCE: &str = "minter-login";
/// Long enough to pick an account and pass a second factor; short enough to be useless later.
pub const LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// No `Debug`: the PKCE verifier is a secret until the code is exchanged.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginState {
    /// Unique per attempt; the callback burns it.
    pub jti: String,
    pub provider: String,
    pub state: String,
    pub pkce_verifier: String,
    /// Empty for plain OAuth providers (GitHub), which have no ID token.
    pub nonce: String,
    pub next: String,
    aud: String,
    exp: i64,
}

impl LoginState {
    pub fn new(
        provider: &str,
        next: String,
        state: String,
        pkce_verifier: String,
        nonce: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            jti: hex::encode(rand::random::<[u8; 16]>()),
            provider: provider.to_string(),
            state,
            pkce_verifier,
            nonce,
            next,
            aud: AUDIENCE.to_string(),
            exp: (now + LIFETIME).timestamp(),
        }
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

impl SessionKeys {
    pub fn login_cookie(&self, login: &LoginState) -> Cookie<'static> {
        self.cookie_builder(COOKIE_NAME, self.sign(login)).max_age(time_duration(LIFETIME)).build()
    }

    pub fn login_removal_cookie(&self) -> Cookie<'static> {
        self.cookie_builder(COOKIE_NAME, String::new()).build()
    }

    /// A login cookie we signed that has not expired; session tokens do not pass (other `aud`).
    pub fn verify_login(&self, token: &str) -> Option<LoginState> {
        self.verify_claims(token, AUDIENCE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SessionUser;

    fn login(now: DateTime<Utc>) -> LoginState {
        LoginState::new("google", "/w/demo".into(), "st".into(), "verifier".into(), "nonce".into(), now)
    }

    #[test]
    fn round_trip_and_refusals() {
        let keys = SessionKeys::new(&[1; 32], "http://127.0.0.1:3000", false);
        let token = keys.sign(&login(Utc::now()));
        let back = keys.verify_login(&token).unwrap();
        assert_eq!((back.provider.as_str(), back.state.as_str(), back.next.as_str()), ("google", "st", "/w/demo"));

        assert!(
            SessionKeys::new(&[2; 32], "http://127.0.0.1:3000", false).verify_login(&token).is_none(),
            "foreign secret"
        );
        let expired = keys.sign(&login(Utc::now() - LIFETIME - chrono::Duration::seconds(1)));
        assert!(keys.verify_login(&expired).is_none(), "expired");

        // The two token kinds cannot stand in for each other.
        let user = SessionUser {
            user_id: "google|a".into(),
            email: "a@b.co".into(),
            name: "A".into(),
            provider: "google".into(),
        };
        assert!(keys.verify_login(&keys.issue(&user, Utc::now())).is_none());
        assert!(keys.verify(&token).is_none());
    }

    #[test]
    fn two_attempts_never_share_an_id() {
        assert_ne!(login(Utc::now()).jti, login(Utc::now()).jti);
    }
}
