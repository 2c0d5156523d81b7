//! The session: a signed JWT (HS256) in an HttpOnly, SameSite=Lax cookie. The same secret signs
//! the short-lived login cookie (`login_state`); the `aud` claim keeps the two apart.
//!
//! A token is bound to the deployment that issued it (`iss` = `PUBLIC_URL`), so a staging server
//! sharing the secret cannot mint production sessions, and a demo sign-in (provider `dev`) is
//! refused by a server that is not in demo mode. Each token has an id (`jti`); signing out records
//! it in the database (`Store::revoke_session`), which every replica reads, so a copied cookie is
//! worthless after sign-out, across restarts.

use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};
use cookie::CookieBuilder;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::SessionUser;

const SESSION_AUDIENCE: &str = "minter-session";
/// The provider of demo sign-ins, which only a demo server accepts.
pub const DEMO_PROVIDER: &str = "dev";

/// The cookie's name over plain http (local use); on https it carries the `__Host-` prefix.
pub const COOKIE_NAME: &str = "minter_session";
/// A workshop day with margin; signing in again is cheap.
pub const LIFETIME: chrono::Duration = chrono::Duration::hours(12);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    aud: String,
    iss: String,
    jti: String,
    sub: String,
    email: String,
    name: String,
    provider: String,
    iat: i64,
    exp: i64,
}

/// A session token that is signed by us, unexpired and meant for this deployment. Whether it was
/// revoked (signed out) is for the store to say: see `crate::auth::session_user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: SessionUser,
    /// The token's id, recorded when the user signs out.
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs and verifies session cookies. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// `PUBLIC_URL`: the `iss` of every token this deployment issues and accepts.
    issuer: String,
    /// `Secure`, `__Host-` cookies when the public URL is https.
    secure: bool,
    /// Whether demo sign-ins (provider `dev`) are accepted.
    demo: bool,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("issuer", &self.issuer)
            .field("secure", &self.secure)
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// Keys for the deployment at `public_url`; `demo` accepts demo sign-ins.
    pub fn new(secret: &[u8], public_url: &str, demo: bool) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: public_url.trim_end_matches('/').to_string(),
            secure: public_url.starts_with("https://"),
            demo,
        }
    }

    pub fn issue(&self, user: &SessionUser, now: DateTime<Utc>) -> String {
        let claims = Claims {
            aud: SESSION_AUDIENCE.to_string(),
            iss: self.issuer.clone(),
            jti: hex::encode(rand::random::<[u8; 16]>()),
            sub: user.user_id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            provider: user.provider.clone(),
            iat: now.timestamp(),
            exp: (now + LIFETIME).timestamp(),
        };
        self.sign(&claims)
    }

    /// The session of a valid token: signed with our secret, unexpired, issued by this
    /// deployment, and (outside demo mode) not a demo sign-in. Anything else is `None`.
    pub fn verify(&self, token: &str) -> Option<Session> {
        let claims: Claims = self.verify_claims(token, SESSION_AUDIENCE)?;
        if claims.iss != self.issuer || claims.jti.is_empty() || (claims.provider == DEMO_PROVIDER && !self.demo) {
            return None;
        }
        Some(Session {
            expires_at: DateTime::from_timestamp(claims.exp, 0)?,
            id: claims.jti,
            user: SessionUser {
                user_id: claims.sub,
                email: claims.email,
                name: claims.name,
                provider: claims.provider,
            },
        })
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

    /// A cookie's name as this deployment sends it: `__Host-<name>` on https, which browsers only
    /// accept from a secure origin, for the whole host, and never from a sibling subdomain.
    pub fn cookie_name(&self, name: &'static str) -> String {
        if self.secure {
            format!("__Host-{name}")
        } else {
            name.to_string()
        }
    }

    /// The session cookie's name (see [`SessionKeys::cookie_name`]).
    pub fn session_cookie_name(&self) -> String {
        self.cookie_name(COOKIE_NAME)
    }

    /// Our cookies' common attributes: HttpOnly, SameSite=Lax (the provider's redirect back is a
    /// top-level GET, which carries it), path `/` (required by `__Host-`), `Secure` on https.
    pub(crate) fn cookie_builder(&self, name: &'static str, value: String) -> CookieBuilder<'static> {
        Cookie::build((self.cookie_name(name), value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
    }

    pub fn cookie(&self, token: String) -> Cookie<'static> {
        self.cookie_builder(COOKIE_NAME, token).max_age(time_duration(LIFETIME)).build()
    }

    pub fn removal_cookie(&self) -> Cookie<'static> {
        self.cookie_builder(COOKIE_NAME, String::new()).build()
    }
}

pub(crate) fn time_duration(d: chrono::Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(d.num_seconds())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "https://keys.example.org";

    fn user(provider: &str) -> SessionUser {
        SessionUser {
            user_id: format!("{provider}|a@b.co"),
            email: "a@b.co".into(),
            name: "A".into(),
            provider: provider.into(),
        }
    }

    #[test]
    fn round_trip() {
        let keys = SessionKeys::new(&[7; 32], SITE, false);
        let token = keys.issue(&user("google"), Utc::now());
        let session = keys.verify(&token).unwrap();
        assert_eq!(session.user, user("google"));
        assert_eq!(session.id.len(), 32);
        assert_ne!(keys.verify(&keys.issue(&user("google"), Utc::now())).unwrap().id, session.id, "ids are unique");
    }

    #[test]
    fn refuses_foreign_tampered_and_expired_tokens() {
        let keys = SessionKeys::new(&[7; 32], SITE, false);
        let foreign = SessionKeys::new(&[8; 32], SITE, false).issue(&user("google"), Utc::now());
        assert_eq!(keys.verify(&foreign), None);

        let token = keys.issue(&user("google"), Utc::now());
        let (head, sig) = token.rsplit_once('.').unwrap();
        let tampered_payload = format!("{}x.{sig}", head);
        assert_eq!(keys.verify(&tampered_payload), None);

        let expired = keys.issue(&user("google"), Utc::now() - LIFETIME - chrono::Duration::seconds(5));
        assert_eq!(keys.verify(&expired), None);
        assert_eq!(keys.verify("not a jwt"), None);
    }

    #[test]
    fn a_token_is_bound_to_its_deployment_and_demo_sign_ins_to_demo_servers() {
        let production = SessionKeys::new(&[7; 32], SITE, false);
        let staging = SessionKeys::new(&[7; 32], "https://staging.keys.example.org", false);
        assert_eq!(production.verify(&staging.issue(&user("google"), Utc::now())), None, "same secret, other site");
        let demo = SessionKeys::new(&[7; 32], SITE, true);
        let demo_token = demo.issue(&user(DEMO_PROVIDER), Utc::now());
        assert!(demo.verify(&demo_token).is_some());
        assert_eq!(production.verify(&demo_token), None, "a demo sign-in outside demo mode");
    }

    #[test]
    fn https_cookies_carry_the_host_prefix() {
        let https = SessionKeys::new(&[7; 32], SITE, false).cookie("t".into());
        assert_eq!(https.name(), "__Host-minter_session");
        assert_eq!((https.secure(), https.path()), (Some(true), Some("/")));
        assert_eq!(https.domain(), None);
        let http = SessionKeys::new(&[7; 32], "http://127.0.0.1:3000", true).cookie("t".into());
        assert_eq!((http.name(), http.secure()), ("minter_session", Some(false)));
    }
}
