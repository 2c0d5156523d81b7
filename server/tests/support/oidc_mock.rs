//! The real OpenID Connect server the Google sign-in tests talk to: npm `oauth2-mock-server`,
//! run by `end2end/support/oidc-mock.mjs` (installed by scripts/setup.sh).

use std::path::PathBuf;
use std::process::Stdio;

use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct OidcMock {
    pub issuer: String,
    control: String,
    _child: Child,
}

#[derive(Deserialize)]
struct Ready {
    issuer: String,
    control: String,
}

/// How the next ID token is spoiled (see oidc-mock.mjs).
#[derive(Clone, Copy, Debug)]
pub enum Spoil {
    Audience,
    Issuer,
    Nonce,
    Expired,
    ForeignKey,
}

impl OidcMock {
    pub async fn start() -> Self {
        let end2end = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end");
        assert!(
            end2end.join("node_modules/oauth2-mock-server").is_dir(),
            "oauth2-mock-server is not installed: run `bash scripts/setup.sh` (or `npm ci` in end2end/)"
        );
        let mut child = Command::new("node")
            .arg(end2end.join("support/oidc-mock.mjs"))
            .current_dir(&end2end)
            .env("OIDC_MOCK_EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node must be installed to run the OIDC mock");
        let stdout = child.stdout.take().unwrap();
        let line = BufReader::new(stdout).lines().next_line().await.unwrap().expect("the OIDC mock exited early");
        let ready: Ready = serde_json::from_str(&line).unwrap();
        Self { issuer: ready.issuer, control: ready.control, _child: child }
    }

    /// Who signs in from now on, with a verified or unverified email, and an optional spoiler.
    pub async fn next_user(&self, sub: &str, email: &str, email_verified: bool, spoil: Option<Spoil>) {
        let spoil = spoil.map(|s| match s {
            Spoil::Audience => "audience",
            Spoil::Issuer => "issuer",
            Spoil::Nonce => "nonce",
            Spoil::Expired => "expired",
            Spoil::ForeignKey => "foreign-key",
        });
        let body = json!({"sub": sub, "email": email, "email_verified": email_verified, "name": "Ada Lovelace", "spoil": spoil});
        let response =
            reqwest::Client::new().post(format!("{}/next-user", self.control)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
}
