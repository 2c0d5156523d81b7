//! The stateless session: a signed JWT (HS256) in an HttpOnly, SameSite=Lax cookie. The same
//! secret signs the short-lived login cookie (`login_state`); the `aud` claim keeps the two apart.

use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};
use cookie::CookieBuilder;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::SessionUser;

const SESSION_AUDIENCE: &str = "minter-session";

pub const COOKIE_NAME: &str = "minter_session";
/// A workshop day with margin; signing in again is cheap.
pub const LIFETIME: chrono::Duration = chrono::Duration::hours(12);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    aud: String,
    sub: String,
    email: String,
    name: String,
    provider: String,
    iat: i64,
    exp: i64,
}

/// Signs and verifies session cookies. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// `Secure` cookies when the public URL is https.
    secure: bool,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys").field("secure", &self.secure).finish_non_exhaustive()
    }
}

impl SessionKeys {
    pub fn new(secret: &[u8], secure: bool) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), secure }
    }

    pub fn issue(&self, user: &SessionUser, now: DateTime<Utc>) -> String {
        let claims = Claims {
            aud: SESSION_AUDIENCE.to_string(),
            sub: user.user_id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            provider: user.provider.clone(),
            iat: now.timestamp(),
            exp: (now + LIFETIME).timestamp(),
        };
        self.sign(&claims)
    }

    /// The user of a valid, unexpired session token signed with our secret; anything else is `None`.
    pub fn verify(&self, token: &str) -> Option<SessionUser> {
        let claims: Claims = self.verify_claims(token, SESSION_AUDIENCE)?;
        Some(SessionUser { user_id: claims.sub, email: claims.email, name: claims.name, provider: claims.provider })
    }

    /// Signs any claims with the session secret; they must carry `aud` and `exp`.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// Claims of an unexpired token for `audience` signed with our secret.
    pub(crate) fn verify_claims<T: DeserializeOwned>(&self, token: &str, audience: &str) -> Option<T> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        decode::<T>(token, &self.decoding, &validation).ok().map(|data| data.claims)
    }

    /// Our cookies' common attributes: HttpOnly, SameSite=Lax (the provider's redirect back is a
    /// top-level GET, which carries it), `Secure` when the public URL is https.
    pub(crate) fn cookie_builder(
        &self,
        name: &'static str,
        value: String,
        path: &'static str,
    ) -> CookieBuilder<'static> {
        Cookie::build((name, value)).path(path).http_only(true).same_site(SameSite::Lax).secure(self.secure)
    }

    pub fn cookie(&self, token: String) -> Cookie<'static> {
        self.cookie_builder(COOKIE_NAME, token, "/").max_age(time_duration(LIFETIME)).build()
    }

    pub fn removal_cookie(&self) -> Cookie<'static> {
        self.cookie_builder(COOKIE_NAME, String::new(), "/").build()
    }
}

pub(crate) fn time_duration(d: chrono::Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(d.num_seconds())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> SessionUser {
        SessionUser { user_id: "dev|a@b.co".into(), email: "a@b.co".into(), name: "A".into(), provider: "dev".into() }
    }

    #[test]
    fn round_trip() {
        let keys = SessionKeys::new(&[7; 32], false);
        let token = keys.issue(&user(), Utc::now());
        assert_eq!(keys.verify(&token), Some(user()));
    }

    #[test]
    fn refuses_foreign_tampered_and_expired_tokens() {
        let keys = SessionKeys::new(&[7; 32], false);
        let foreign = SessionKeys::new(&[8; 32], false).issue(&user(), Utc::now());
        assert_eq!(keys.verify(&foreign), None);

        let token = keys.issue(&user(), Utc::now());
        let (head, sig) = token.rsplit_once('.').unwrap();
        let tampered_payload = format!("{}x.{sig}", head);
        assert_eq!(keys.verify(&tampered_payload), None);

        let expired = keys.issue(&user(), Utc::now() - LIFETIME - chrono::Duration::seconds(5));
        assert_eq!(keys.verify(&expired), None);
        assert_eq!(keys.verify("not a jwt"), None);
    }
}
