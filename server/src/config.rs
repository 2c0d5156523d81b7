//! Configuration from the environment (documented in README.md and .env.example).

use std::fmt;

use app::auth::providers::github::{GITHUB_API_URL, GITHUB_BASE_URL};
use app::auth::providers::{GithubConfig, OidcConfig, ProviderConfig};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://minter.db";
pub const DEFAULT_OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    /// `None` in demo mode without a key: the in-process simulator serves.
    pub openrouter_management_key: Option<String>,
    pub openrouter_base_url: String,
    /// `OPENROUTER_CA_FILE`: a PEM bundle of roots trusted for OpenRouter beside the built-in ones
    /// (a TLS-inspecting proxy; the bench's simulator over TLS).
    pub openrouter_extra_roots: Vec<reqwest::Certificate>,
    /// At most this many calls to OpenRouter at once; a burst of claims queues behind them.
    pub openrouter_max_concurrency: usize,
    /// How often the background work reads usage from OpenRouter (`USAGE_SYNC_SECONDS`).
    pub usage_sync_every: std::time::Duration,
    pub session_secret: Vec<u8>,
    pub demo: bool,
    /// Where browsers reach us: OAuth redirect URIs are built from it, sessions are `Secure`
    /// cookies when it is https, and cross-site POSTs are judged against it. No trailing slash.
    pub public_url: String,
    /// Configured sign-in providers, in the order the page offers them.
    pub sign_in: Vec<ProviderConfig>,
    /// `ADMIN_EMAILS`, lowercased: who may run every workshop's admin pages.
    pub admin_emails: Vec<String>,
    /// `METRICS_ADDR`: where Prometheus metrics are served (off the public site); none if unset.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `RATE_LIMIT_*_PER_MINUTE`, `TRUST_PROXY`.
    pub limits: app::rate_limit::Limits,
}

// By hand: the management key and the session secret never reach a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url_password(&self.database_url))
            .field("openrouter_management_key", &self.openrouter_management_key.as_ref().map(|_| "<set>"))
            .field("openrouter_base_url", &self.openrouter_base_url)
            .field("demo", &self.demo)
            .field("public_url", &self.public_url)
            .field("admin_emails", &self.admin_emails.len())
            .field("sign_in", &self.sign_in.iter().map(provider_id).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn provider_id(provider: &ProviderConfig) -> &str {
    match provider {
        ProviderConfig::Oidc(c) => &c.id,
        ProviderConfig::Github(_) => "github",
    }
}

fn redact_url_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<credentials>@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// Reads the configuration through `get` (the process environment in `main`).
    /// Every problem is reported at once, so a deploy is fixed in one round.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let non_empty = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let demo = matches!(non_empty("MINTER_DEMO").as_deref(), Some("1" | "true" | "yes"));
        let mut missing = Vec::new();

        let openrouter_management_key = non_empty("OPENROUTER_MANAGEMENT_KEY");
        if openrouter_management_key.is_none() && !demo {
            missing.push(
                "OPENROUTER_MANAGEMENT_KEY (or MINTER_DEMO=1 to use the built-in OpenRouter simulator)".to_string(),
            );
        }
        let session_secret = match non_empty("SESSION_SECRET") {
            Some(secret) => match weakness(&secret) {
                None => secret.into_bytes(),
                Some(why) => {
                    missing.push(format!("SESSION_SECRET is too weak ({why}); make one with `openssl rand -hex 32`"));
                    Vec::new()
                }
            },
            None if !demo => {
                missing.push("SESSION_SECRET (at least 32 bytes, e.g. `openssl rand -hex 32`)".to_string());
                Vec::new()
            }
            // Demo mode: a fresh secret per start; sessions end when the server restarts.
            _ => rand_secret(),
        };
        let openrouter_max_concurrency = match non_empty("OPENROUTER_MAX_CONCURRENCY") {
            None => openrouter::DEFAULT_MAX_CONCURRENCY,
            Some(n) => match n.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    missing.push(format!("OPENROUTER_MAX_CONCURRENCY must be a whole number ≥ 1, not {n:?}"));
                    1
                }
            },
        };
        let openrouter_extra_roots = match non_empty("OPENROUTER_CA_FILE").map(|path| (std::fs::read(&path), path)) {
            None => Vec::new(),
            Some((Ok(pem), path)) => openrouter::roots_from_pem(&pem).unwrap_or_else(|_| {
                missing.push(format!("OPENROUTER_CA_FILE {path:?} holds no PEM certificate"));
                Vec::new()
            }),
            Some((Err(e), path)) => {
                missing.push(format!("OPENROUTER_CA_FILE {path:?} cannot be read: {e}"));
                Vec::new()
            }
        };
        let usage_sync_every = match non_empty("USAGE_SYNC_SECONDS") {
            None => std::time::Duration::from_secs(60),
            Some(n) => match n.parse::<u64>() {
                Ok(n) if n >= 1 => std::time::Duration::from_secs(n),
                _ => {
                    missing.push(format!("USAGE_SYNC_SECONDS must be a whole number ≥ 1, not {n:?}"));
                    std::time::Duration::from_secs(60)
                }
            },
        };
        let public_url = match non_empty("PUBLIC_URL") {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                url.trim_end_matches('/').to_string()
            }
            Some(url) => {
                missing.push(format!("PUBLIC_URL must start with https:// (or http:// for local use), not {url:?}"));
                String::new()
            }
            None if demo => "http://127.0.0.1:3000".to_string(),
            None => {
                missing
                    .push("PUBLIC_URL (e.g. https://keys.example.org; OAuth redirect URIs are built from it)".into());
                String::new()
            }
        };
        // Demo sign-in lets anyone be anyone, the admins included: never on a public site by mistake.
        let demo_public = matches!(non_empty("MINTER_DEMO_PUBLIC").as_deref(), Some("1" | "true" | "yes"));
        if demo && public_url.starts_with("https://") && !demo_public {
            missing.push(format!(
                "MINTER_DEMO=1 with the public PUBLIC_URL {public_url}: demo sign-in is unverified, so anyone could \
                 sign in as an admin. Unset MINTER_DEMO for a real deployment, or also set MINTER_DEMO_PUBLIC=1 \
                 to expose the demo on purpose"
            ));
        }
        let admin_emails: Vec<String> = non_empty("ADMIN_EMAILS")
            .unwrap_or_default()
            .split(',')
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        if let Some(bad) = admin_emails.iter().find(|e| !app::auth::looks_like_email(e)) {
            missing.push(format!("ADMIN_EMAILS must be comma-separated email addresses; {bad:?} is not one"));
        }
        let metrics_addr = non_empty("METRICS_ADDR").and_then(|addr| match addr.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                missing.push(format!("METRICS_ADDR must be an address and port like 127.0.0.1:9100, not {addr:?}"));
                None
            }
        });
        let defaults = app::rate_limit::Limits::default();
        let mut per_minute = |name: &str, default: u32| match non_empty(name) {
            None => default,
            Some(n) => n.parse::<u32>().ok().filter(|n| *n >= 1).unwrap_or_else(|| {
                missing.push(format!("{name} must be a whole number ≥ 1, not {n:?}"));
                default
            }),
        };
        let claims_per_user = per_minute("RATE_LIMIT_CLAIMS_PER_MINUTE", defaults.claims_per_user);
        let key_tests_per_user = per_minute("RATE_LIMIT_KEY_TESTS_PER_MINUTE", defaults.key_tests_per_user);
        let requests_per_address = per_minute("RATE_LIMIT_REQUESTS_PER_MINUTE", defaults.requests_per_address);
        let pages_per_address = per_minute("RATE_LIMIT_PAGES_PER_MINUTE", defaults.pages_per_address);
        let trusted_proxies = match non_empty("TRUST_PROXY") {
            None => Vec::new(),
            Some(text) => app::rate_limit::parse_trusted_proxies(&text).unwrap_or_else(|problem| {
                missing.push(format!(
                    "TRUST_PROXY takes the addresses or CIDR ranges of your reverse proxies, comma-separated \
                     (e.g. 10.0.0.0/8), so that a client cannot choose its own address: {problem}"
                ));
                Vec::new()
            }),
        };
        let limits = app::rate_limit::Limits {
            claims_per_user,
            key_tests_per_user,
            requests_per_address,
            pages_per_address,
            trusted_proxies,
            ..defaults
        };
        let sign_in = sign_in_providers(&non_empty, &mut missing);
        if sign_in.is_empty() && !demo {
            missing.push(
                "a sign-in method: GOOGLE_CLIENT_ID + GOOGLE_CLIENT_SECRET, GITHUB_CLIENT_ID + GITHUB_CLIENT_SECRET, \
                 or OIDC_ISSUER + OIDC_CLIENT_ID + OIDC_CLIENT_SECRET"
                    .into(),
            );
        }
        if !missing.is_empty() {
            return Err(format!("missing or invalid configuration:\n  - {}", missing.join("\n  - ")));
        }
        Ok(Config {
            database_url: non_empty("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            openrouter_management_key,
            openrouter_base_url: non_empty("OPENROUTER_BASE_URL")
                .unwrap_or_else(|| DEFAULT_OPENROUTER_BASE_URL.to_string()),
            openrouter_extra_roots,
            openrouter_max_concurrency,
            usage_sync_every,
            session_secret,
            demo,
            public_url,
            sign_in,
            admin_emails,
            metrics_addr,
            limits,
        })
    }

    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Google, GitHub and one generic OIDC issuer, each configured by its client id and secret (both
/// or neither).
pub(crate) fn sign_in_providers(
    non_empty: &impl Fn(&str) -> Option<String>,
    missing: &mut Vec<String>,
) -> Vec<ProviderConfig> {
    let mut providers = Vec::new();
    let mut pair =
        |prefix: &str| match (non_empty(&format!("{prefix}_CLIENT_ID")), non_empty(&format!("{prefix}_CLIENT_SECRET")))
        {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            (Some(_), None) => {
                missing.push(format!("{prefix}_CLIENT_SECRET ({prefix}_CLIENT_ID is set)"));
                None
            }
            (None, Some(_)) => {
                missing.push(format!("{prefix}_CLIENT_ID ({prefix}_CLIENT_SECRET is set)"));
                None
            }
        };
    if let Some((id, secret)) = pair("GOOGLE") {
        providers.push(ProviderConfig::Oidc(OidcConfig::google(id, secret, non_empty("GOOGLE_ISSUER"))));
    }
    if let Some((client_id, client_secret)) = pair("GITHUB") {
        providers.push(ProviderConfig::Github(GithubConfig {
            client_id,
            client_secret,
            base_url: non_empty("GITHUB_BASE_URL").unwrap_or_else(|| GITHUB_BASE_URL.into()),
            api_url: non_empty("GITHUB_API_URL").unwrap_or_else(|| GITHUB_API_URL.into()),
        }));
    }
    // Any other OpenID Connect issuer (Auth0, Microsoft Entra, Keycloak, …): configuration only.
    let generic = pair("OIDC");
    match (generic, non_empty("OIDC_ISSUER")) {
        (Some((client_id, client_secret)), Some(issuer)) => {
            let id = non_empty("OIDC_ID").unwrap_or_else(|| "oidc".into());
            let taken = ["google", "github", "dev"].contains(&id.as_str());
            if taken || id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                missing.push(format!(
                    "OIDC_ID must be lower-case letters, digits and dashes, not google/github/dev: {id:?}"
                ));
            } else {
                let label = non_empty("OIDC_LABEL").unwrap_or_else(|| "single sign-on".into());
                providers.push(ProviderConfig::Oidc(OidcConfig { id, label, issuer, client_id, client_secret }));
            }
        }
        (Some(_), None) => missing.push("OIDC_ISSUER (OIDC_CLIENT_ID is set)".into()),
        (None, _) => {}
    }
    providers
}

/// Why a session secret is guessable, if it is: whoever knows it can sign in as anyone.
fn weakness(secret: &str) -> Option<&'static str> {
    let bytes = secret.as_bytes();
    if bytes.len() < 32 {
        return Some("shorter than 32 bytes");
    }
    let distinct = bytes.iter().collect::<std::collections::HashSet<_>>().len();
    if distinct < 10 {
        return Some("fewer than 10 different characters");
    }
    // "abcabcabc…", "0123456789abcdef0123456789abcdef": a short pattern repeated.
    if (1..=bytes.len() / 2).any(|period| bytes.iter().skip(period).zip(bytes).all(|(a, b)| a == b)) {
        return Some("a short pattern repeated");
    }
    // "abcdefgh…", "0123456789…": mostly a run that counts up or down.
    let counting = bytes.windows(2).filter(|pair| i16::from(pair[1]).abs_diff(i16::from(pair[0])) == 1).count();
    if counting * 4 >= (bytes.len() - 1) * 3 {
        return Some("a run of consecutive characters");
    }
    None
}

fn rand_secret() -> Vec<u8> {
    rand::random::<[u8; 32]>().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn production_needs_key_and_secret_and_lists_both() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert!(err.contains("OPENROUTER_MANAGEMENT_KEY"), "{err}");
        assert!(err.contains("SESSION_SECRET"), "{err}");
    }

    #[test]
    fn short_or_obvious_secrets_are_refused() {
        for (secret, why) in [
            ("short", "shorter than 32 bytes"),
            (&"x".repeat(64), "fewer than 10 different characters"),
            ("0123456789abcdef0123456789abcdef", "a short pattern repeated"),
            ("Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3", "a short pattern repeated"),
            ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "a run of consecutive characters"),
        ] {
            for demo in ["0", "1"] {
                let err = Config::from_lookup(lookup(&[
                    ("MINTER_DEMO", demo),
                    ("OPENROUTER_MANAGEMENT_KEY", "k"),
                    ("SESSION_SECRET", secret),
                ]))
                .unwrap_err();
                assert!(err.contains(&format!("SESSION_SECRET is too weak ({why})")), "{secret}: {err}");
            }
        }
        assert_eq!(weakness(SECRET), None);
        assert_eq!(weakness("3f9c1e0b7a5d24c68e1f0a9b3c7d5e2f4a6b8c0d1e3f5a7b9c2d4e6f8a0b1c3d"), None);
    }

    #[test]
    fn demo_mode_refuses_a_public_url_unless_told_twice() {
        let public = [("MINTER_DEMO", "1"), ("PUBLIC_URL", "https://keys.example.org")];
        let err = Config::from_lookup(lookup(&public)).unwrap_err();
        assert!(err.contains("MINTER_DEMO=1 with the public PUBLIC_URL https://keys.example.org"), "{err}");
        assert!(err.contains("MINTER_DEMO_PUBLIC=1"), "{err}");
        let on_purpose = [public[0], public[1], ("MINTER_DEMO_PUBLIC", "1")];
        assert!(Config::from_lookup(lookup(&on_purpose)).unwrap().demo);
        let local = [("MINTER_DEMO", "1"), ("PUBLIC_URL", "http://192.168.1.20:3000")];
        assert!(Config::from_lookup(lookup(&local)).is_ok(), "plain http is a laptop or a LAN");
    }

    #[test]
    fn demo_runs_with_nothing_set() {
        let config = Config::from_lookup(lookup(&[("MINTER_DEMO", "1")])).unwrap();
        assert!(config.demo);
        assert!(config.openrouter_management_key.is_none());
        assert_eq!(config.session_secret.len(), 32);
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.openrouter_base_url, DEFAULT_OPENROUTER_BASE_URL);
        assert_eq!(config.usage_sync_every, std::time::Duration::from_secs(60));
    }

    #[test]
    fn admin_emails_are_a_lowercased_list() {
        let config = Config::from_lookup(lookup(&[
            ("MINTER_DEMO", "1"),
            ("ADMIN_EMAILS", " Ana@Example.org, ,bo@example.org "),
        ]))
        .unwrap();
        assert_eq!(config.admin_emails, ["ana@example.org", "bo@example.org"]);
        let err =
            Config::from_lookup(lookup(&[("MINTER_DEMO", "1"), ("ADMIN_EMAILS", "ana@example.org bo@example.org")]))
                .unwrap_err();
        assert!(err.contains("ADMIN_EMAILS must be comma-separated email addresses"), "{err}");
        assert!(Config::from_lookup(lookup(&[("MINTER_DEMO", "1")])).unwrap().admin_emails.is_empty());
    }

    #[test]
    fn an_openrouter_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (garbage, missing) = (dir.path().join("garbage.pem"), dir.path().join("missing.pem"));
        std::fs::write(&garbage, "not a certificate").unwrap();
        for (path, why) in [(&garbage, "holds no PEM certificate"), (&missing, "cannot be read")] {
            let path = path.to_str().unwrap();
            let err = Config::from_lookup(lookup(&[("MINTER_DEMO", "1"), ("OPENROUTER_CA_FILE", path)])).unwrap_err();
            assert!(err.contains(&format!("OPENROUTER_CA_FILE {path:?} {why}")), "{err}");
        }
        assert!(Config::from_lookup(lookup(&[("MINTER_DEMO", "1")])).unwrap().openrouter_extra_roots.is_empty());
    }

    #[test]
    fn metrics_address_is_optional_and_checked() {
        assert_eq!(Config::from_lookup(lookup(&[("MINTER_DEMO", "1")])).unwrap().metrics_addr, None);
        let config = Config::from_lookup(lookup(&[("MINTER_DEMO", "1"), ("METRICS_ADDR", "127.0.0.1:9100")])).unwrap();
        assert_eq!(config.metrics_addr, Some("127.0.0.1:9100".parse().unwrap()));
        let err = Config::from_lookup(lookup(&[("MINTER_DEMO", "1"), ("METRICS_ADDR", "9100")])).unwrap_err();
        assert!(err.contains("METRICS_ADDR must be an address and port"), "{err}");
    }

    #[test]
    fn rate_limits_default_and_are_checked() {
        let config = Config::from_lookup(lookup(&[("MINTER_DEMO", "1")])).unwrap();
        assert_eq!(config.limits, app::rate_limit::Limits::default());
        let config = Config::from_lookup(lookup(&[
            ("MINTER_DEMO", "1"),
            ("RATE_LIMIT_CLAIMS_PER_MINUTE", "3"),
            ("RATE_LIMIT_REQUESTS_PER_MINUTE", "100"),
            ("RATE_LIMIT_PAGES_PER_MINUTE", "50"),
            ("RATE_LIMIT_KEY_TESTS_PER_MINUTE", "2"),
            ("TRUST_PROXY", "10.0.0.0/8, 192.0.2.1"),
        ]))
        .unwrap();
        assert_eq!(
            config.limits,
            app::rate_limit::Limits {
                claims_per_user: 3,
                requests_per_address: 100,
                pages_per_address: 50,
                key_tests_per_user: 2,
                trusted_proxies: app::rate_limit::parse_trusted_proxies("10.0.0.0/8,192.0.2.1").unwrap(),
                ..app::rate_limit::Limits::default()
            }
        );
        // "Trust whoever connects" is what let clients choose their own address.
        let err = Config::from_lookup(lookup(&[("MINTER_DEMO", "1"), ("TRUST_PROXY", "1")])).unwrap_err();
        assert!(err.contains("TRUST_PROXY takes the addresses or CIDR ranges"), "{err}");
        let err =
            Config::from_lookup(lookup(&[("MINTER_DEMO", "1"), ("RATE_LIMIT_CLAIMS_PER_MINUTE", "0")])).unwrap_err();
        assert!(err.contains("RATE_LIMIT_CLAIMS_PER_MINUTE must be a whole number ≥ 1"), "{err}");
    }

    #[test]
    fn usage_sync_period_is_whole_seconds() {
        let config = Config::from_lookup(lookup(&[("MINTER_DEMO", "1"), ("USAGE_SYNC_SECONDS", "5")])).unwrap();
        assert_eq!(config.usage_sync_every, std::time::Duration::from_secs(5));
        for bad in ["0", "-1", "1.5", "soon"] {
            let err = Config::from_lookup(lookup(&[("MINTER_DEMO", "1"), ("USAGE_SYNC_SECONDS", bad)])).unwrap_err();
            assert!(err.contains("USAGE_SYNC_SECONDS must be a whole number ≥ 1"), "{bad}: {err}");
        }
    }

    /// What `openssl rand -hex 16` printed once.
    const SECRET: &str = "9f2b7c41d0e85a36b1c4e97f20d8a5c3";

    const BASE: [(&str, &str); 3] = [
        ("OPENROUTER_MANAGEMENT_KEY", "sk-or-v1-k"),
        ("SESSION_SECRET", SECRET),
        ("PUBLIC_URL", "https://keys.example.org/"),
    ];

    fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        BASE.iter().copied().chain(extra.iter().copied()).collect()
    }

    #[test]
    fn production_needs_public_url_and_a_sign_in_method() {
        let err = Config::from_lookup(lookup(&BASE[..2])).unwrap_err();
        assert!(err.contains("PUBLIC_URL"), "{err}");
        assert!(err.contains("a sign-in method"), "{err}");
        let err = Config::from_lookup(lookup(&[BASE[0], BASE[1], ("PUBLIC_URL", "keys.example.org")])).unwrap_err();
        assert!(err.contains("PUBLIC_URL must start with https://"), "{err}");
    }

    #[test]
    fn providers_are_configured_by_id_and_secret_pairs() {
        let vars = with(&[
            ("GOOGLE_CLIENT_ID", "g-id"),
            ("GOOGLE_CLIENT_SECRET", "g-secret"),
            ("GITHUB_CLIENT_ID", "gh-id"),
            ("GITHUB_CLIENT_SECRET", "gh-secret"),
            ("OIDC_ISSUER", "https://login.example.org/realms/w"),
            ("OIDC_CLIENT_ID", "kc-id"),
            ("OIDC_CLIENT_SECRET", "kc-secret"),
            ("OIDC_ID", "keycloak"),
            ("OIDC_LABEL", "Keycloak"),
        ]);
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(config.public_url, "https://keys.example.org", "trailing slash dropped");
        let ids: Vec<_> = config.sign_in.iter().map(provider_id).collect();
        assert_eq!(ids, ["google", "github", "keycloak"]);
        match &config.sign_in[0] {
            ProviderConfig::Oidc(google) => assert_eq!(google.issuer, "https://accounts.google.com"),
            ProviderConfig::Github(_) => panic!("google first"),
        }
        match &config.sign_in[1] {
            ProviderConfig::Github(github) => {
                assert_eq!((github.base_url.as_str(), github.api_url.as_str()), (GITHUB_BASE_URL, GITHUB_API_URL))
            }
            ProviderConfig::Oidc(_) => panic!("github second"),
        }
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn half_configured_providers_are_reported() {
        let vars = with(&[
            ("GOOGLE_CLIENT_ID", "g-id"),
            ("GITHUB_CLIENT_SECRET", "gh-secret"),
            ("OIDC_CLIENT_ID", "x"),
            ("OIDC_CLIENT_SECRET", "y"),
        ]);
        let err = Config::from_lookup(lookup(&vars)).unwrap_err();
        for expected in ["GOOGLE_CLIENT_SECRET", "GITHUB_CLIENT_ID", "OIDC_ISSUER"] {
            assert!(err.contains(expected), "{expected} in {err}");
        }
        let vars = with(&[
            ("OIDC_ISSUER", "https://i"),
            ("OIDC_CLIENT_ID", "x"),
            ("OIDC_CLIENT_SECRET", "y"),
            ("OIDC_ID", "github"),
        ]);
        assert!(Config::from_lookup(lookup(&vars)).unwrap_err().contains("OIDC_ID"));
    }

    #[test]
    fn debug_hides_secrets() {
        let config = Config::from_lookup(lookup(&[
            ("OPENROUTER_MANAGEMENT_KEY", "sk-or-v1-secretsecret"),
            ("SESSION_SECRET", SECRET),
            ("DATABASE_URL", "postgres://user:hunter2@db/minter"),
            ("PUBLIC_URL", "https://keys.example.org"),
            ("GITHUB_CLIENT_ID", "gh-id"),
            ("GITHUB_CLIENT_SECRET", "gh-hunter3"),
        ]))
        .unwrap();
        let shown = format!("{config:?}");
        for secret in ["secretsecret", SECRET, "hunter2", "hunter3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
