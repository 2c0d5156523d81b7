//! Configuration from the environment (documented in README.md and .env.example).

use std::fmt;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://minter.db";
pub const DEFAULT_OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    /// `None` in demo mode without a key: the in-process simulator serves.
    pub openrouter_management_key: Option<String>,
    pub openrouter_base_url: String,
    /// At most this many calls to OpenRouter at once; a burst of claims queues behind them.
    pub openrouter_max_concurrency: usize,
    pub session_secret: Vec<u8>,
    pub demo: bool,
    /// Sessions are `Secure` cookies when this is https.
    pub public_url: String,
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
            .finish_non_exhaustive()
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
            Some(secret) if secret.len() >= 32 => secret.into_bytes(),
            Some(_) if !demo => {
                missing.push("SESSION_SECRET of at least 32 bytes (e.g. `openssl rand -hex 32`)".to_string());
                Vec::new()
            }
            None if !demo => {
                missing.push("SESSION_SECRET (at least 32 bytes, e.g. `openssl rand -hex 32`)".to_string());
                Vec::new()
            }
            // Demo mode: a fresh secret per start; sessions end when the server restarts.
            _ => rand_secret(),
        };
        let openrouter_max_concurrency = match non_empty("OPENROUTER_MAX_CONCURRENCY") {
            None => app::openrouter::DEFAULT_MAX_CONCURRENCY,
            Some(n) => match n.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    missing.push(format!("OPENROUTER_MAX_CONCURRENCY must be a whole number ≥ 1, not {n:?}"));
                    1
                }
            },
        };
        if !missing.is_empty() {
            return Err(format!("missing or invalid configuration:\n  - {}", missing.join("\n  - ")));
        }
        Ok(Config {
            database_url: non_empty("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            openrouter_management_key,
            openrouter_base_url: non_empty("OPENROUTER_BASE_URL")
                .unwrap_or_else(|| DEFAULT_OPENROUTER_BASE_URL.to_string()),
            openrouter_max_concurrency,
            session_secret,
            demo,
            public_url: non_empty("PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".to_string()),
        })
    }

    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
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
    fn short_secret_is_refused_outside_demo() {
        let err = Config::from_lookup(lookup(&[("OPENROUTER_MANAGEMENT_KEY", "k"), ("SESSION_SECRET", "short")]))
            .unwrap_err();
        assert!(err.contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn demo_runs_with_nothing_set() {
        let config = Config::from_lookup(lookup(&[("MINTER_DEMO", "1")])).unwrap();
        assert!(config.demo);
        assert!(config.openrouter_management_key.is_none());
        assert_eq!(config.session_secret.len(), 32);
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.openrouter_base_url, DEFAULT_OPENROUTER_BASE_URL);
    }

    #[test]
    fn debug_hides_secrets() {
        let config = Config::from_lookup(lookup(&[
            ("OPENROUTER_MANAGEMENT_KEY", "sk-or-v1-secretsecret"),
            ("SESSION_SECRET", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "postgres://user:hunter2@db/minter"),
        ]))
        .unwrap();
        let shown = format!("{config:?}");
        for secret in ["secretsecret", "0123456789abcdef", "hunter2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
