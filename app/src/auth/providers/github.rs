//! GitHub OAuth (GitHub is not an OpenID Connect provider): authorization code flow with `state`
//! and PKCE, then `GET /user` for the numeric id and `GET /user/emails` for the primary verified
//! email. The login name can change hands, so it is never the user id.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{fetch_json, token_error, Authorization, Identity, SignInError};
use crate::auth::login_state::LoginState;

pub const GITHUB_BASE_URL: &str = "https://github.com";
pub const GITHUB_API_URL: &str = "https://api.github.com";
const LABEL: &str = "GitHub";

#[derive(Clone)]
pub struct GithubConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Where users authorize and codes are exchanged (GitHub Enterprise: its own host).
    pub base_url: String,
    pub api_url: String,
}

pub struct GithubProvider {
    config: GithubConfig,
    http: oauth2::reqwest::Client,
}

type GithubClient = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

impl GithubProvider {
    pub fn new(config: GithubConfig, http: oauth2::reqwest::Client) -> Self {
        Self { config, http }
    }

    pub fn authorize(&self, redirect_uri: &str) -> Result<Authorization, SignInError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client(redirect_uri)?
            .authorize_url(CsrfToken::new_random)
            .add_scopes(["read:user", "user:email"].map(|s| Scope::new(s.to_string())))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: String::new(),
        })
    }

    pub async fn finish(&self, code: &str, login: &LoginState, redirect_uri: &str) -> Result<Identity, SignInError> {
        // The oauth2 crate asks for JSON (`Accept: application/json`); GitHub would answer a
        // form-encoded body otherwise.
        let token = self
            .client(redirect_uri)?
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(LABEL, e))?;
        let access_token = token.access_token().secret();
        let user: User = self.api(access_token, "/user").await?;
        let emails: Vec<Email> = self.api(access_token, "/user/emails").await?;
        let email = emails.into_iter().find(|e| e.primary && e.verified).ok_or(SignInError::NoVerifiedEmail)?.email;
        Ok(Identity {
            user_id: format!("github|{}", user.id),
            email,
            name: user.name.filter(|n| !n.trim().is_empty()).unwrap_or(user.login),
            provider: "github".into(),
        })
    }

    fn client(&self, redirect_uri: &str) -> Result<GithubClient, SignInError> {
        let base = self.config.base_url.trim_end_matches('/');
        let invalid = |what: &str| {
            tracing::error!("invalid GitHub {what} URL");
            SignInError::Unavailable(LABEL.into())
        };
        Ok(BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.config.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(format!("{base}/login/oauth/authorize")).map_err(|_| invalid("base"))?)
            .set_token_uri(TokenUrl::new(format!("{base}/login/oauth/access_token")).map_err(|_| invalid("base"))?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(|_| invalid("redirect"))?))
    }

    async fn api<T: DeserializeOwned>(&self, access_token: &str, path: &str) -> Result<T, SignInError> {
        let url = format!("{}{path}", self.config.api_url.trim_end_matches('/'));
        let request = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        fetch_json(request, "github", LABEL).await
    }
}
