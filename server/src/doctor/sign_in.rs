//! Each sign-in provider: reachable, the client id and secret accepted, and the exact redirect
//! URI to register with it. The credentials are tried by exchanging a code that cannot be valid:
//! a provider answers `invalid_grant` (Google) or `bad_verification_code` (GitHub) to a client it
//! knows, and `invalid_client` / `incorrect_client_credentials` otherwise. Nothing is created.

use app::auth::providers::{GithubConfig, OidcConfig, ProviderConfig};
use serde::Deserialize;

use super::settings::without_url;
use super::{env, http, Report};

const IMPOSSIBLE_CODE: &str = "server-doctor-checks-the-client";

pub async fn check(report: &mut Report) {
    let mut ignored = Vec::new();
    let providers = crate::config::sign_in_providers(&env, &mut ignored);
    let public_url = env("PUBLIC_URL").unwrap_or_default();
    let public_url = public_url.trim_end_matches('/');
    for provider in providers {
        match provider {
            ProviderConfig::Oidc(oidc) => check_oidc(report, &oidc, public_url).await,
            ProviderConfig::Github(github) => check_github(report, &github, public_url).await,
        }
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// What a token endpoint says to the impossible code.
#[derive(Deserialize, Default)]
struct TokenAnswer {
    #[serde(default)]
    error: String,
}

async fn check_oidc(report: &mut Report, oidc: &OidcConfig, public_url: &str) {
    let check = format!("sign-in {}", oidc.id);
    let issuer = oidc.issuer.trim_end_matches('/');
    let address = format!("{issuer}/.well-known/openid-configuration");
    let discovery: Discovery = match http().get(&address).send().await {
        Ok(response) if response.status().is_success() => match response.json().await {
            Ok(discovery) => discovery,
            Err(_) => {
                return report.problem(&check, format!("{address} is not a discovery document"), "check the issuer")
            }
        },
        Ok(response) => {
            return report.problem(&check, format!("{address} answers {}", response.status()), "check the issuer URL")
        }
        Err(e) => {
            return report.problem(
                &check,
                format!("{address}: {}", without_url(&e)),
                "check the issuer and this host's network",
            )
        }
    };
    if discovery.issuer.trim_end_matches('/') != issuer {
        return report.problem(
            &check,
            format!("the discovery document names the issuer {}, not {issuer}", discovery.issuer),
            "set the issuer exactly as the provider names itself",
        );
    }
    if let Err(e) = http().get(&discovery.jwks_uri).send().await.and_then(|r| r.error_for_status()) {
        return report.problem(
            &check,
            format!("its signing keys cannot be read ({})", without_url(&e)),
            "check the issuer",
        );
    }
    let redirect_uri = format!("{public_url}/auth/callback/{}", oidc.id);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", IMPOSSIBLE_CODE),
        ("redirect_uri", &redirect_uri),
        ("client_id", &oidc.client_id),
        ("client_secret", &oidc.client_secret),
    ];
    let answer = http().post(&discovery.token_endpoint).form(&form).send().await;
    let error = match answer {
        Ok(response) => response.json::<TokenAnswer>().await.unwrap_or_default().error,
        Err(e) => {
            return report.problem(&check, format!("its token endpoint: {}", without_url(&e)), "check the issuer")
        }
    };
    if matches!(error.as_str(), "invalid_client" | "unauthorized_client") {
        return report.problem(
            &check,
            format!("the client id or secret is refused ({error})"),
            format!("copy both from the provider's console into {}_CLIENT_ID / _SECRET", prefix(&oidc.id)),
        );
    }
    report.ok(
        &check,
        format!(
            "{issuer} answers and does not refuse the client; register the redirect URI {redirect_uri}{}",
            where_to(&oidc.id)
        ),
    );
}

async fn check_github(report: &mut Report, github: &GithubConfig, public_url: &str) {
    let check = "sign-in github";
    let redirect_uri = format!("{public_url}/auth/callback/github");
    let form = [
        ("client_id", github.client_id.as_str()),
        ("client_secret", github.client_secret.as_str()),
        ("code", IMPOSSIBLE_CODE),
        ("redirect_uri", &redirect_uri),
    ];
    let address = format!("{}/login/oauth/access_token", github.base_url.trim_end_matches('/'));
    let answer = http().post(&address).header("accept", "application/json").form(&form).send().await;
    let error = match answer {
        Ok(response) => response.json::<TokenAnswer>().await.unwrap_or_default().error,
        Err(e) => {
            return report.problem(
                check,
                format!("{address}: {}", without_url(&e)),
                "check GITHUB_BASE_URL and this host's network",
            )
        }
    };
    match error.as_str() {
        "incorrect_client_credentials" => report.problem(
            check,
            "the client id or secret is refused (incorrect_client_credentials)",
            "copy both from the OAuth app's page into GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET",
        ),
        "bad_verification_code" | "redirect_uri_mismatch" => {
            let api = github.api_url.trim_end_matches('/');
            match http().get(api).header("accept", "application/json").send().await {
                Ok(_) => report.ok(
                    check,
                    format!(
                        "GitHub knows the OAuth app; set its Authorization callback URL to {redirect_uri} \
                         (github.com → Settings → Developer settings → OAuth Apps)"
                    ),
                ),
                Err(e) => report.problem(check, format!("{api}: {}", without_url(&e)), "check GITHUB_API_URL"),
            }
        }
        other => report.problem(
            check,
            format!("unexpected answer to a code exchange ({other:?})"),
            "check GITHUB_BASE_URL (it is https://github.com, or your GitHub Enterprise host)",
        ),
    }
}

fn prefix(id: &str) -> &'static str {
    if id == "google" {
        "GOOGLE"
    } else {
        "OIDC"
    }
}

fn where_to(id: &str) -> &'static str {
    if id == "google" {
        " (Google Cloud console → APIs & Services → Credentials → the OAuth client → Authorized redirect URIs)"
    } else {
        ""
    }
}
