//! The workshop file format (`workshops/<slug>.yaml`) and its validation.
//!
//! This file is compiled twice: into the crate, and into `build.rs` (via `#[path]`) so that a
//! mistake in a workshop file fails `cargo build` with the file and the field. It therefore
//! depends only on serde, serde_yaml, chrono and rust_decimal.

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workshop {
    /// The file name without `.yaml`; a-z, 0-9 and `-`. The page is `/w/<slug>`.
    pub slug: String,
    /// The workshop's title, as attendees see it.
    pub name: String,
    /// The conference or meetup it is part of.
    pub event: String,
    /// Venue and room.
    pub location: String,
    /// RFC 3339 with an offset, e.g. `2026-04-15T14:00:00+02:00`.
    pub starts_at: DateTime<FixedOffset>,
    /// Keys expire `openrouter.expires_buffer_minutes` after this.
    pub ends_at: DateTime<FixedOffset>,
    /// Claims are refused before this (checked on the server).
    pub claims_open_at: DateTime<FixedOffset>,
    /// Claims are refused from this moment on.
    pub claims_close_at: DateTime<FixedOffset>,
    /// `false` hides the workshop and refuses claims.
    #[serde(default = "default_true")]
    pub is_active: bool,
    /// Markdown; raw HTML in it is escaped when rendered.
    #[serde(default)]
    pub welcome_message: String,
    pub openrouter: OpenRouterSettings,
    /// Emails (as the sign-in provider verified them) that may run this workshop's admin page.
    /// Never sent to browsers: the attendee page serialises this struct.
    #[serde(default, skip_serializing)]
    pub organisers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRouterSettings {
    /// Spending limit of each attendee's key, in USD.
    #[schemars(with = "f64")]
    pub budget_usd: Decimal,
    /// Keys are named `<prefix>-<10 random characters>`; unique across workshops.
    pub key_label_prefix: String,
    /// The key expires this long after `ends_at`.
    #[serde(default)]
    pub expires_buffer_minutes: u32,
    /// The models the guardrail allows (and the page lists); at least one.
    pub models: Vec<Model>,
    pub guardrail: GuardrailSettings,
    /// OpenRouter workspace for the keys and the guardrail; its budget is how spend is pooled
    /// (guardrail budgets apply per key). Absent: the account's default workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// OpenRouter's model id, `vendor/model` (optionally `:variant`).
    pub id: String,
    /// The name shown to attendees.
    pub label: String,
    /// A short hint shown beside it.
    #[serde(default)]
    pub note: String,
    #[schemars(with = "f64")]
    pub price_in_per_mtok: Decimal,
    #[schemars(with = "f64")]
    pub price_out_per_mtok: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSettings {
    /// The workshop's pool: claimed keys × budget_usd never exceeds this.
    #[schemars(with = "f64")]
    pub cap_usd: Decimal,
    /// When the guardrail's budget resets: daily, weekly or monthly.
    pub reset_interval: ResetInterval,
    /// At most this many keys are handed out.
    pub max_keys: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResetInterval {
    Daily,
    Weekly,
    Monthly,
}

fn default_true() -> bool {
    true
}

/// What is wrong with a workshop file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// Dotted path of the offending field, e.g. `openrouter.models[1].id`.
    pub field: String,
    pub message: String,
    /// 1-based (line, column) where the YAML parser stopped, for syntax and shape errors (the
    /// message says it too); `None` for the rules checked after parsing.
    pub location: Option<(usize, usize)>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

fn error(field: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError { field: field.into(), message: message.into(), location: None }
}

/// Parses and validates one workshop file; `file_stem` is its name without `.yaml`.
pub fn parse(file_stem: &str, yaml: &str) -> Result<Workshop, SpecError> {
    let workshop: Workshop = serde_yaml::from_str(yaml).map_err(|e| {
        // serde_yaml prefixes the message with the dotted path when it knows it.
        let text = e.to_string();
        let mut spec_error = match text.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') => error(path, rest),
            _ => error("(document)", text),
        };
        spec_error.location = e.location().map(|l| (l.line(), l.column()));
        spec_error
    })?;
    workshop.validate(file_stem)?;
    Ok(workshop)
}

/// The rules across files: a slug names one workshop, and a key name prefix tells whose key it is
/// (the background disables keys with a workshop's prefix that no row knows). `files` are
/// (path as shown, workshop) in order; each clash is reported on the later file.
pub fn check_across<'a>(files: impl IntoIterator<Item = (&'a str, &'a Workshop)>) -> Vec<(String, SpecError)> {
    let mut slugs = std::collections::HashMap::new();
    let mut prefixes = std::collections::HashMap::new();
    let mut clashes = Vec::new();
    for (shown, workshop) in files {
        if let Some(other) = slugs.insert(workshop.slug.as_str(), shown) {
            clashes.push((shown.to_string(), error("slug", format!("`{}` is also {other}", workshop.slug))));
        }
        let prefix = workshop.openrouter.key_label_prefix.as_str();
        if let Some(other) = prefixes.insert(prefix, shown) {
            let message = format!("`{prefix}` is also used by {other}; their keys could not be told apart");
            clashes.push((shown.to_string(), error("openrouter.key_label_prefix", message)));
        }
    }
    clashes
}

impl Workshop {
    /// Every rule a workshop file must satisfy beyond its shape.
    pub fn validate(&self, file_stem: &str) -> Result<(), SpecError> {
        if self.slug != file_stem {
            return Err(error("slug", format!("`{}` must equal the file name `{file_stem}`", self.slug)));
        }
        if self.slug.is_empty() || !self.slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(error("slug", "must be non-empty and only a-z, 0-9 and -"));
        }
        for (field, value) in [("name", &self.name), ("event", &self.event), ("location", &self.location)] {
            if value.trim().is_empty() {
                return Err(error(field, "must not be empty"));
            }
        }
        if self.starts_at >= self.ends_at {
            return Err(error("ends_at", "must be after starts_at"));
        }
        if self.claims_open_at >= self.claims_close_at {
            return Err(error("claims_close_at", "must be after claims_open_at"));
        }
        let or = &self.openrouter;
        // A key claimed at the last moment must still have some life in it.
        let keys_expire = self.ends_at + chrono::Duration::minutes(i64::from(or.expires_buffer_minutes));
        if self.claims_close_at >= keys_expire {
            return Err(error(
                "claims_close_at",
                format!(
                    "must be before the keys expire at {} (ends_at + openrouter.expires_buffer_minutes): \
                     a key claimed at the close would be born expired",
                    keys_expire.to_rfc3339()
                ),
            ));
        }
        if or.budget_usd <= Decimal::ZERO {
            return Err(error("openrouter.budget_usd", "must be greater than 0"));
        }
        if or.key_label_prefix.trim().is_empty() {
            return Err(error("openrouter.key_label_prefix", "must not be empty"));
        }
        if or.models.is_empty() {
            return Err(error("openrouter.models", "needs at least one model"));
        }
        let mut seen = HashSet::new();
        for (i, model) in or.models.iter().enumerate() {
            if !is_model_id(&model.id) {
                return Err(error(
                    format!("openrouter.models[{i}].id"),
                    format!("`{}` must look like vendor/model", model.id),
                ));
            }
            if !seen.insert(model.id.as_str()) {
                return Err(error(format!("openrouter.models[{i}].id"), format!("`{}` is listed twice", model.id)));
            }
            if model.label.trim().is_empty() {
                return Err(error(format!("openrouter.models[{i}].label"), "must not be empty"));
            }
            if model.price_in_per_mtok < Decimal::ZERO {
                return Err(error(format!("openrouter.models[{i}].price_in_per_mtok"), "must not be negative"));
            }
            if model.price_out_per_mtok < Decimal::ZERO {
                return Err(error(format!("openrouter.models[{i}].price_out_per_mtok"), "must not be negative"));
            }
        }
        if let Some(workspace) = &or.workspace_id {
            let is_uuid = workspace.len() == 36
                && workspace.chars().enumerate().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                });
            if !is_uuid {
                return Err(error("openrouter.workspace_id", "must be a workspace UUID"));
            }
        }
        let mut organisers = HashSet::new();
        for (i, email) in self.organisers.iter().enumerate() {
            let field = format!("organisers[{i}]");
            match email.split_once('@') {
                Some((local, domain))
                    if !local.is_empty()
                        && domain.contains('.')
                        && !domain.contains('@')
                        && !email.contains(char::is_whitespace) => {}
                _ => return Err(error(field, format!("`{email}` is not an email address"))),
            }
            if !organisers.insert(email.to_lowercase()) {
                return Err(error(field, format!("`{email}` is listed twice")));
            }
        }
        let guardrail = &or.guardrail;
        if guardrail.cap_usd < or.budget_usd {
            return Err(error("openrouter.guardrail.cap_usd", "must be at least openrouter.budget_usd"));
        }
        if guardrail.max_keys < 1 {
            return Err(error("openrouter.guardrail.max_keys", "must be at least 1"));
        }
        Ok(())
    }

    /// Whether `email` (verified by the sign-in provider) is one of this workshop's organisers.
    pub fn has_organiser(&self, email: &str) -> bool {
        self.organisers.iter().any(|o| o.eq_ignore_ascii_case(email.trim()))
    }

    /// How many keys the pool allows: `max_keys`, and no more than `cap_usd / budget_usd`.
    pub fn pool_size(&self) -> u32 {
        let by_budget = (self.openrouter.guardrail.cap_usd / self.openrouter.budget_usd).floor();
        let by_budget = rust_decimal::prelude::ToPrimitive::to_u32(&by_budget).unwrap_or(u32::MAX);
        self.openrouter.guardrail.max_keys.min(by_budget)
    }
}

/// `vendor/model`, optionally with a `:variant`; no spaces, both parts non-empty.
fn is_model_id(id: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    match id.split_once('/') {
        Some((vendor, model)) => {
            !vendor.is_empty() && !model.is_empty() && vendor.chars().all(allowed) && model.chars().all(allowed)
        }
        None => false,
    }
}
