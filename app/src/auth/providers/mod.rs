//! Sign-in providers: any OpenID Connect issuer (Google by default) and GitHub OAuth. Each turns
//! "start a sign-in" into a provider URL, and a callback's code into a verified identity.

pub mod github;
pub mod oidc;

use std::time::Duration;

use oauth2::basic::BasicErrorResponseType;
use oauth2::{RequestTokenError, StandardErrorResponse};

pub use github::{GithubConfig, GithubProvider};
pub use oidc::{OidcConfig, OidcProvider};

use super::login_state::LoginState;
use super::SignInOption;

/// Who the provider vouches for, with a verified email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `<provider>|<stable id>`: the OIDC `sub`, GitHub's numeric id (never the login).
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub provider: String,
}

/// Why a sign-in was refused, in words for the person signing in. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The id is for the log; the page never repeats what the request said.
    #[error("There is no such sign-in method here.")]
    UnknownProvider(String),
    #[error("This sign-in attempt has expired, was already used, or did not start here. Please sign in again.")]
    InvalidState,
    #[error("The sign-in was cancelled or refused by {provider}: {}.", refusal_reason(error))]
    ProviderRefused { provider: String, error: String },
    #[error("{0} did not accept the sign-in code (it may have been used already). Please sign in again.")]
    CodeRejected(String),
    #[error("The identity token could not be trusted: {0}.")]
    InvalidIdToken(&'static str),
    #[error("Your email address is not verified with {0}. Verify it there, then sign in again.")]
    EmailNotVerified(String),
    #[error(
        "Your GitHub account has no verified primary email address. Add or verify one on GitHub, then sign in again."
    )]
    NoVerifiedEmail,
    #[error("{0} could not be reached. Please try again in a minute.")]
    Unavailable(String),
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

/// What an OAuth `error` code (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6) means, in words;
/// the provider's free-text `error_description` arrives through the browser, so it is never shown.
fn refusal_reason(error: &str) -> &'static str {
    match error {
        "access_denied" => "access was not granted",
        "login_required" | "interaction_required" | "consent_required" | "account_selection_required" => {
            "the provider needs you to sign in or confirm there first"
        }
        "temporarily_unavailable" | "server_error" => "the provider had a problem; try again in a minute",
        _ => "the provider gave a reason we cannot show",
    }
}

impl SignInError {
    pub fn status(&self) -> u16 {
        match self {
            SignInError::UnknownProvider(_) => 404,
            SignInError::InvalidState | SignInError::CodeRejected(_) => 400,
            SignInError::ProviderRefused { .. }
            | SignInError::InvalidIdToken(_)
            | SignInError::EmailNotVerified(_)
            | SignInError::NoVerifiedEmail => 403,
            SignInError::Unavailable(_) => 502,
            SignInError::Internal => 500,
        }
    }
}

/// Where to send the browser, and what the callback must check.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

#[allow(clippy::large_enum_variant, reason = "a few, built once at start-up")]
pub enum Provider {
    Oidc(OidcProvider),
    Github(GithubProvider),
}

impl Provider {
    pub fn id(&self) -> &str {
        match self {
            Provider::Oidc(p) => &p.config.id,
            Provider::Github(_) => "github",
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Provider::Oidc(p) => &p.config.label,
            Provider::Github(_) => "GitHub",
        }
    }

    pub async fn authorize(&self, redirect_uri: &str) -> Result<Authorization, SignInError> {
        match self {
            Provider::Oidc(p) => p.authorize(redirect_uri).await,
            Provider::Github(p) => p.authorize(redirect_uri),
        }
    }

    pub async fn finish(&self, code: &str, login: &LoginState, redirect_uri: &str) -> Result<Identity, SignInError> {
        match self {
            Provider::Oidc(p) => p.finish(code, login, redirect_uri).await,
            Provider::Github(p) => p.finish(code, login, redirect_uri).await,
        }
    }
}

/// A provider's settings, as configuration reads them.
#[derive(Clone)]
pub enum ProviderConfig {
    Oidc(OidcConfig),
    Github(GithubConfig),
}

/// The configured providers and the public URL their redirect URIs are built from.
pub struct SignIn {
    public_url: String,
    providers: Vec<Provider>,
}

impl SignIn {
    pub fn new(public_url: &str, configs: Vec<ProviderConfig>) -> Self {
        let http = http_client();
        let providers = configs
            .into_iter()
            .map(|config| match config {
                ProviderConfig::Oidc(c) => Provider::Oidc(OidcProvider::new(c, http.clone())),
                ProviderConfig::Github(c) => Provider::Github(GithubProvider::new(c, http.clone())),
            })
            .collect();
        Self { public_url: public_url.trim_end_matches('/').to_string(), providers }
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id() == id)
    }

    /// Exactly what is registered with the provider: `{PUBLIC_URL}/auth/callback/{id}`.
    pub fn redirect_uri(&self, provider: &Provider) -> String {
        format!("{}/auth/callback/{}", self.public_url, provider.id())
    }

    /// The buttons a signed-out visitor of `next` sees, one per configured provider.
    pub fn options(&self, next: &str) -> Vec<SignInOption> {
        self.providers
            .iter()
            .map(|p| SignInOption {
                label: format!("Sign in with {}", p.label()),
                href: format!("/auth/login/{}?next={}", p.id(), crate::auth::encode_query_value(next)),
            })
            .collect()
    }
}

/// One client for all providers: no redirects followed (a token endpoint that redirects is
/// misconfigured, and following it could leak the code), bounded time.
fn http_client() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .user_agent("workshop-key-minter")
        .build()
        .expect("static HTTP client configuration")
}

/// A failed code exchange: the provider's refusal, or the provider being unreachable.
fn token_error<RE: std::error::Error + 'static>(
    provider: &str,
    error: RequestTokenError<RE, StandardErrorResponse<BasicErrorResponseType>>,
) -> SignInError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            tracing::info!(provider, error = %response.error(), "sign-in code refused");
            SignInError::CodeRejected(provider.to_string())
        }
        // GitHub answers refusals with 200 and an `error` body, which is not a token.
        RequestTokenError::Parse(_, body) => match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(refusal) => {
                tracing::info!(provider, error = %refusal.error, "sign-in code refused");
                SignInError::CodeRejected(provider.to_string())
            }
            Err(_) => {
                tracing::warn!(provider, "code exchange answered with neither a token nor an error");
                SignInError::Unavailable(provider.to_string())
            }
        },
        other => {
            tracing::warn!(provider, error = %other, "code exchange failed");
            SignInError::Unavailable(provider.to_string())
        }
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
}

/// GETs JSON from a provider; any failure (transport, status, body) is "unreachable" to the
/// person signing in, and logged with the provider's id (the error names the URL, never a token).
async fn fetch_json<T: serde::de::DeserializeOwned>(
    request: oauth2::reqwest::RequestBuilder,
    provider: &str,
    label: &str,
) -> Result<T, SignInError> {
    let unavailable = |e: oauth2::reqwest::Error| {
        tracing::warn!(provider, error = %e, "provider request failed");
        SignInError::Unavailable(label.to_string())
    };
    let response = request.send().await.map_err(unavailable)?.error_for_status().map_err(unavailable)?;
    response.json().await.map_err(unavailable)
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}
