//! "Test my key": one minimal chat completion with the attendee's own key, explained.

use serde::{Deserialize, Serialize};

use crate::workshops::Model;

/// What the test request found out, in terms an attendee can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyCheck {
    Works {
        model: String,
        answer: String,
    },
    Expired,
    OverBudget,
    ModelNotAllowed {
        model: String,
        /// OpenRouter's own refusal, as the attendee's code would see it (the one OpenRouter
        /// text a page shows: it answers the attendee's own request, and their SDK prints it too).
        refusal: String,
    },
    Revoked,
    /// Rate limited, overloaded or unreachable: worth another try in a moment.
    Busy,
    /// Anything else. OpenRouter's own message is in the log under the request id `reference`.
    Failed {
        status: u16,
        reference: String,
    },
}

impl KeyCheck {
    pub fn works(&self) -> bool {
        matches!(self, KeyCheck::Works { .. })
    }

    /// A short code for the page reached after a plain form post (`?key_test=<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            KeyCheck::Works { .. } => "works",
            KeyCheck::Expired => "expired",
            KeyCheck::OverBudget => "over-budget",
            KeyCheck::ModelNotAllowed { .. } => "model-not-allowed",
            KeyCheck::Revoked => "revoked",
            KeyCheck::Busy => "busy",
            KeyCheck::Failed { .. } => "failed",
        }
    }

    /// The check behind a code; the answer text and details do not survive the redirect.
    pub fn from_code(code: &str, model: &str) -> Option<KeyCheck> {
        Some(match code {
            "works" => KeyCheck::Works { model: model.into(), answer: String::new() },
            "expired" => KeyCheck::Expired,
            "over-budget" => KeyCheck::OverBudget,
            "model-not-allowed" => KeyCheck::ModelNotAllowed { model: model.into(), refusal: String::new() },
            "revoked" => KeyCheck::Revoked,
            "busy" => KeyCheck::Busy,
            "failed" => KeyCheck::Failed { status: 0, reference: String::new() },
            _ => return None,
        })
    }

    pub fn explanation(&self) -> String {
        match self {
            KeyCheck::Works { model, .. } => format!("Your key works: {model} answered."),
            KeyCheck::Expired => "Your key has expired: keys stop working shortly after the workshop ends.".into(),
            KeyCheck::OverBudget => "Your key has used up its budget. Ask an organiser if you need more.".into(),
            KeyCheck::ModelNotAllowed { model, .. } => {
                format!("Your key may not use {model}: the workshop's model list was changed. Ask an organiser.")
            }
            KeyCheck::Revoked => "Your key was switched off by an organiser. Ask them for a new one.".into(),
            KeyCheck::Busy => "OpenRouter is busy, try again in a few seconds.".into(),
            KeyCheck::Failed { status, reference } => {
                let status = if *status == 0 { String::new() } else { format!(" ({status})") };
                format!(
                    "The test request failed{status}. Please try again, or ask an organiser.{}",
                    crate::claim::reference_text(reference)
                )
            }
        }
    }
}

/// A [`KeyCheck`] as the page shows it, written where the check is known (the server, or the key
/// test's request in its lazily loaded chunk), as times and money are: the island that shows it
/// then carries neither the explanations nor the decoding of the check's variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCheckText {
    /// [`KeyCheck::code`], for the page's `data-outcome`.
    pub code: String,
    pub explanation: String,
    /// The model's answer to a key that works; empty otherwise, or when it did not survive a
    /// redirect.
    pub answer: String,
    /// OpenRouter's refusal of a model the key may not use; empty otherwise.
    pub refusal: String,
}

impl From<&KeyCheck> for KeyCheckText {
    fn from(check: &KeyCheck) -> Self {
        let (answer, refusal) = match check {
            KeyCheck::Works { answer, .. } => (answer.clone(), String::new()),
            KeyCheck::ModelNotAllowed { refusal, .. } => (String::new(), refusal.clone()),
            _ => (String::new(), String::new()),
        };
        KeyCheckText { code: check.code().to_string(), explanation: check.explanation(), answer, refusal }
    }
}

impl KeyCheckText {
    /// [`KeyCheck::works`], read from the code the text carries ([`KeyCheck::code`]).
    pub fn works(&self) -> bool {
        self.code == "works"
    }
}

/// The model a test costs least with: lowest input + output price, first in the file on a tie.
pub fn cheapest_model(models: &[Model]) -> Option<&Model> {
    models.iter().min_by_key(|m| m.price_in_per_mtok + m.price_out_per_mtok)
}

#[cfg(feature = "ssr")]
pub use server::check_key;

#[cfg(feature = "ssr")]
mod server {
    use super::KeyCheck;
    use openrouter::{OpenRouterClient, OpenRouterError};

    pub async fn check_key(client: &OpenRouterClient, key: &str, model: &str) -> KeyCheck {
        match client.chat_with_key(key, model, "Say hello to a workshop attendee in five words.", 16).await {
            Ok(answer) => KeyCheck::Works { model: model.to_string(), answer },
            Err(e) => classify(&e, model),
        }
    }

    /// OpenRouter's answers for a key that cannot be used: 401 for a key that is disabled,
    /// expired or gone, 402 when its limit is reached, 403 when a guardrail refuses the model.
    fn classify(e: &OpenRouterError, model: &str) -> KeyCheck {
        match e {
            OpenRouterError::Api { status: 401, message, .. } if message.to_lowercase().contains("expired") => {
                KeyCheck::Expired
            }
            OpenRouterError::Api { status: 401, .. } => KeyCheck::Revoked,
            OpenRouterError::Api { status: 402, .. } => KeyCheck::OverBudget,
            OpenRouterError::Api { status: 403, message, .. }
                if message.contains(model) || message.to_lowercase().contains("guardrail") =>
            {
                KeyCheck::ModelNotAllowed { model: model.to_string(), refusal: refusal_text(message) }
            }
            e if e.is_retryable() => KeyCheck::Busy,
            other => {
                tracing::warn!(error = %other, "a key test failed");
                let status = match other {
                    OpenRouterError::Api { status, .. } => *status,
                    _ => 0,
                };
                KeyCheck::Failed { status, reference: crate::request_id::current() }
            }
        }
    }

    /// OpenRouter's words, bounded and on one line.
    fn refusal_text(message: &str) -> String {
        let line: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        match line.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn api(status: u16, message: &str) -> OpenRouterError {
            OpenRouterError::Api { status, message: message.into(), retry_after: None }
        }

        #[test]
        fn each_refusal_gets_its_own_explanation() {
            let m = "openai/gpt-4o-mini";
            assert_eq!(classify(&api(401, "This API key has expired"), m), KeyCheck::Expired);
            assert_eq!(classify(&api(401, "This API key is disabled"), m), KeyCheck::Revoked);
            assert_eq!(classify(&api(401, "User not found."), m), KeyCheck::Revoked);
            assert_eq!(classify(&api(402, "Insufficient credits"), m), KeyCheck::OverBudget);
            let refused = "Model openai/gpt-4o-mini is not allowed by the guardrail of this API key";
            assert_eq!(
                classify(&api(403, refused), m),
                KeyCheck::ModelNotAllowed { model: m.into(), refusal: refused.into() }
            );
            assert_eq!(classify(&api(429, "Rate limit exceeded"), m), KeyCheck::Busy);
            assert_eq!(classify(&api(503, "No provider available"), m), KeyCheck::Busy);
            assert_eq!(classify(&OpenRouterError::Connect("refused".into()), m), KeyCheck::Busy);
            let failed = classify(&api(403, "Flagged by moderation: call 555-0100"), m);
            assert_eq!(failed, KeyCheck::Failed { status: 403, reference: String::new() });
            assert!(!failed.explanation().contains("555"), "OpenRouter's text stays in the log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_carries_what_the_page_shows() {
        let refusal = "Model m/x is not allowed by the guardrail of this API key";
        let refused = KeyCheckText::from(&KeyCheck::ModelNotAllowed { model: "m/x".into(), refusal: refusal.into() });
        assert_eq!(refused.code, "model-not-allowed");
        assert!(!refused.works());
        assert!(refused.explanation.starts_with("Your key may not use m/x"), "{}", refused.explanation);
        assert_eq!((refused.answer.as_str(), refused.refusal.as_str()), ("", refusal));

        let works = KeyCheckText::from(&KeyCheck::Works { model: "m/x".into(), answer: "Hello there".into() });
        assert_eq!((works.code.as_str(), works.works()), ("works", true));
        assert_eq!(works.explanation, "Your key works: m/x answered.");
        assert_eq!((works.answer.as_str(), works.refusal.as_str()), ("Hello there", ""));

        let expired = KeyCheckText::from(&KeyCheck::Expired);
        assert!(!expired.works());
        assert_eq!((expired.code.as_str(), expired.answer.as_str(), expired.refusal.as_str()), ("expired", "", ""));
    }
}
