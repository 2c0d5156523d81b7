//! Any OpenID Connect issuer: discovery, authorization code flow with PKCE, `state` and `nonce`,
//! and an ID token verified against the issuer's published keys. Google is this provider with
//! issuer `https://accounts.google.com`; Auth0, Microsoft or Keycloak differ only in settings.

use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken,
    StandardTokenResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{fetch_json, random_token, token_error, Authorization, Identity, SignInError};
use crate::auth::login_state::LoginState;

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// Discovery is re-read this often (providers rotate keys, rarely endpoints).
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` refetches the keys, at most this often (forged tokens cannot make us hammer).
const KEYS_REFETCH_MIN: Duration = Duration::from_secs(30);
/// Clock skew tolerated on `exp`.
const LEEWAY_SECONDS: u64 = 60;
/// Only public-key signatures: an `HS256` token "signed" with a public key must not pass.
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Clone)]
pub struct OidcConfig {
    /// In URLs (`/auth/login/{id}`) and user ids (`{id}|{sub}`): `google` for Google.
    pub id: String,
    /// On the button: "Sign in with {label}".
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl OidcConfig {
    pub fn google(client_id: String, client_secret: String, issuer: Option<String>) -> Self {
        Self {
            id: "google".into(),
            label: "Google".into(),
            issuer: issuer.unwrap_or_else(|| GOOGLE_ISSUER.into()),
            client_id,
            client_secret,
        }
    }
}

pub struct OidcProvider {
    pub config: OidcConfig,
    http: oauth2::reqwest::Client,
    discovered: Mutex<Option<Discovered>>,
}

#[derive(Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

struct Discovered {
    metadata: Metadata,
    keys: JwkSet,
    fetched_at: Instant,
    keys_fetched_at: Instant,
}

/// The token response's `id_token`, which plain OAuth does not know about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type OidcClient = Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    aud: serde_json::Value,
    azp: Option<String>,
    nonce: Option<String>,
    email: Option<String>,
    /// A boolean, or the string "true" from some issuers.
    email_verified: Option<serde_json::Value>,
    name: Option<String>,
}

impl OidcProvider {
    pub fn new(config: OidcConfig, http: oauth2::reqwest::Client) -> Self {
        Self { config, http, discovered: Mutex::new(None) }
    }

    pub async fn authorize(&self, redirect_uri: &str) -> Result<Authorization, SignInError> {
        let metadata = self.metadata().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = random_token();
        let (url, state) = self
            .client(&metadata, redirect_uri)?
            .authorize_url(CsrfToken::new_random)
            .add_scopes(["openid", "email", "profile"].map(|s| Scope::new(s.to_string())))
            .add_extra_param("nonce", nonce.clone())
            .set_pkce_challenge(challenge)
            .url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce,
        })
    }

    pub async fn finish(&self, code: &str, login: &LoginState, redirect_uri: &str) -> Result<Identity, SignInError> {
        let metadata = self.metadata().await?;
        let response = self
            .client(&metadata, redirect_uri)?
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(&self.config.label, e))?;
        let id_token =
            response.extra_fields().id_token.as_deref().ok_or(SignInError::InvalidIdToken("none was sent"))?;
        let claims = self.verify_id_token(id_token, &metadata, &login.nonce).await?;

        let email = claims
            .email
            .filter(|e| !e.trim().is_empty())
            .ok_or(SignInError::InvalidIdToken("it carries no email address"))?;
        let verified = matches!(&claims.email_verified, Some(serde_json::Value::Bool(true)))
            || matches!(&claims.email_verified, Some(serde_json::Value::String(s)) if s == "true");
        if !verified {
            return Err(SignInError::EmailNotVerified(self.config.label.clone()));
        }
        let name = claims
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
        Ok(Identity {
            user_id: format!("{}|{}", self.config.id, claims.sub),
            email,
            name,
            provider: self.config.id.clone(),
        })
    }

    async fn verify_id_token(&self, token: &str, metadata: &Metadata, nonce: &str) -> Result<IdClaims, SignInError> {
        let header = decode_header(token).map_err(|_| SignInError::InvalidIdToken("it is malformed"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(SignInError::InvalidIdToken("it is not signed with a public-key algorithm"));
        }
        let jwk = self
            .signing_key(header.kid.as_deref())
            .await?
            .ok_or(SignInError::InvalidIdToken("it is signed by a key the provider does not publish"))?;
        let key =
            DecodingKey::from_jwk(&jwk).map_err(|_| SignInError::InvalidIdToken("the provider's key is unusable"))?;

        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.config.client_id]);
        validation.set_issuer(&[&metadata.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let claims = decode::<IdClaims>(token, &key, &validation)
            .map_err(|e| {
                SignInError::InvalidIdToken(match e.kind() {
                    ErrorKind::ExpiredSignature => "it has expired",
                    ErrorKind::InvalidAudience => "it was issued for another application",
                    ErrorKind::InvalidIssuer => "it was issued by another provider",
                    ErrorKind::InvalidSignature => "its signature does not match the provider's key",
                    _ => "it is malformed or incomplete",
                })
            })?
            .claims;

        if claims.nonce.as_deref() != Some(nonce) {
            return Err(SignInError::InvalidIdToken("its nonce does not belong to this sign-in"));
        }
        // Several audiences: the token must have been issued to us (OIDC Core 3.1.3.7).
        let audiences = claims.aud.as_array().map_or(1, Vec::len);
        if audiences > 1 && claims.azp.as_deref() != Some(self.config.client_id.as_str()) {
            return Err(SignInError::InvalidIdToken("it was issued for another application"));
        }
        Ok(claims)
    }

    fn client(&self, metadata: &Metadata, redirect_uri: &str) -> Result<OidcClient, SignInError> {
        let invalid = |what: &str| {
            tracing::error!(provider = %self.config.id, "invalid {what} URL");
            SignInError::Unavailable(self.config.label.clone())
        };
        Ok(Client::new(ClientId::new(self.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.config.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(metadata.authorization_endpoint.clone()).map_err(|_| invalid("authorization"))?)
            .set_token_uri(oauth2::TokenUrl::new(metadata.token_endpoint.clone()).map_err(|_| invalid("token"))?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(|_| invalid("redirect"))?))
    }

    /// The issuer's discovery document, fetched once an hour with its keys.
    async fn metadata(&self) -> Result<Metadata, SignInError> {
        let mut discovered = self.discovered.lock().await;
        if let Some(d) = discovered.as_ref().filter(|d| d.fetched_at.elapsed() < METADATA_TTL) {
            return Ok(d.metadata.clone());
        }
        let issuer = self.config.issuer.trim_end_matches('/');
        let metadata: Metadata = self.get_json(&format!("{issuer}/.well-known/openid-configuration")).await?;
        // OIDC Discovery 4.3: the document must be about the issuer we asked.
        if metadata.issuer.trim_end_matches('/') != issuer {
            tracing::error!(provider = %self.config.id, configured = issuer, announced = %metadata.issuer, "issuer mismatch");
            return Err(SignInError::Unavailable(self.config.label.clone()));
        }
        let keys: JwkSet = self.get_json(&metadata.jwks_uri).await?;
        let now = Instant::now();
        *discovered = Some(Discovered { metadata: metadata.clone(), keys, fetched_at: now, keys_fetched_at: now });
        Ok(metadata)
    }

    /// The published key with `kid` (or the only key, for tokens without one), refetching the
    /// key set once if it is unknown: the provider may have rotated since we last looked.
    async fn signing_key(&self, kid: Option<&str>) -> Result<Option<Jwk>, SignInError> {
        let mut discovered = self.discovered.lock().await;
        let Some(d) = discovered.as_mut() else { return Ok(None) };
        let find = |keys: &JwkSet| match kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        if let Some(jwk) = find(&d.keys) {
            return Ok(Some(jwk));
        }
        if d.keys_fetched_at.elapsed() < KEYS_REFETCH_MIN {
            return Ok(None);
        }
        d.keys = self.get_json(&d.metadata.jwks_uri).await?;
        d.keys_fetched_at = Instant::now();
        Ok(find(&d.keys))
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, SignInError> {
        fetch_json(self.http.get(url), &self.config.id, &self.config.label).await
    }
}
