//! Ready-to-paste code for the attendee's key, built from the workshop's models.

use crate::workshops::Model;

/// The OpenAI-compatible endpoint every snippet talks to.
pub const OPENROUTER_API_BASE: &str = "https://openrouter.ai/api/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnippetKind {
    Env,
    Curl,
    Python,
    TypeScript,
}

impl SnippetKind {
    pub const ALL: [SnippetKind; 4] =
        [SnippetKind::Env, SnippetKind::Curl, SnippetKind::Python, SnippetKind::TypeScript];

    /// The tab's name in the URL (`?snippet=curl`).
    pub fn id(self) -> &'static str {
        match self {
            SnippetKind::Env => "env",
            SnippetKind::Curl => "curl",
            SnippetKind::Python => "python",
            SnippetKind::TypeScript => "typescript",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SnippetKind::Env => ".env",
            SnippetKind::Curl => "curl",
            SnippetKind::Python => "Python",
            SnippetKind::TypeScript => "TypeScript",
        }
    }

    /// The tab named `id`; the first tab for anything else.
    pub fn from_id(id: Option<&str>) -> SnippetKind {
        Self::ALL.into_iter().find(|k| Some(k.id()) == id).unwrap_or(SnippetKind::Env)
    }
}

/// The snippet of `kind`. The first model of the workshop file is the one used; the others are
/// listed where a comment fits. Only the `.env` file holds the key; the code reads it from there.
pub fn snippet(kind: SnippetKind, key: &str, models: &[Model]) -> String {
    let model = models.first().map_or("openrouter/auto", |m| m.id.as_str());
    let others = models.iter().skip(1).map(|m| m.id.as_str()).collect::<Vec<_>>().join(", ");
    let also = |comment: &str| {
        if others.is_empty() {
            String::new()
        } else {
            format!("{comment} Also allowed: {others}\n")
        }
    };
    match kind {
        SnippetKind::Env => format!(
            "OPENROUTER_API_KEY={key}\nOPENROUTER_BASE_URL={OPENROUTER_API_BASE}\nOPENROUTER_MODEL={model}\n{}",
            also("#")
        ),
        SnippetKind::Curl => format!(
            "{}curl {OPENROUTER_API_BASE}/chat/completions \\\n  -H \"Authorization: Bearer $OPENROUTER_API_KEY\" \\\n  \
             -H \"Content-Type: application/json\" \\\n  \
             -d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}]}}'\n",
            also("#")
        ),
        SnippetKind::Python => format!(
            "# pip install openai\nimport os\nfrom openai import OpenAI\n\nclient = OpenAI(\n    \
             base_url=\"{OPENROUTER_API_BASE}\",\n    api_key=os.environ[\"OPENROUTER_API_KEY\"],\n)\n{}\
             reply = client.chat.completions.create(\n    model=\"{model}\",\n    \
             messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n)\nprint(reply.choices[0].message.content)\n",
            also("#")
        ),
        SnippetKind::TypeScript => format!(
            "// npm install openai\nimport OpenAI from \"openai\";\n\nconst client = new OpenAI({{\n  \
             baseURL: \"{OPENROUTER_API_BASE}\",\n  apiKey: process.env.OPENROUTER_API_KEY,\n}});\n{}\
             const reply = await client.chat.completions.create({{\n  model: \"{model}\",\n  \
             messages: [{{ role: \"user\", content: \"Hello!\" }}],\n}});\nconsole.log(reply.choices[0].message.content);\n",
            also("//")
        ),
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn model(id: &str) -> Model {
        Model {
            id: id.into(),
            label: id.into(),
            note: String::new(),
            price_in_per_mtok: Decimal::ONE,
            price_out_per_mtok: Decimal::ONE,
        }
    }

    #[test]
    fn every_snippet_uses_the_workshop_models_and_never_another() {
        let models = [model("openai/gpt-4o-mini"), model("anthropic/claude-3.5-haiku")];
        for kind in SnippetKind::ALL {
            let text = snippet(kind, "sk-or-v1-abc", &models);
            assert!(
                text.contains("\"openai/gpt-4o-mini\"") || text.contains("=openai/gpt-4o-mini"),
                "{kind:?}: {text}"
            );
            assert!(text.contains("Also allowed: anthropic/claude-3.5-haiku"), "{kind:?}: {text}");
            assert!(text.contains(OPENROUTER_API_BASE), "{kind:?}: {text}");
            // The key is pasted once, into .env; code reads the environment.
            assert_eq!(text.contains("sk-or-v1-abc"), kind == SnippetKind::Env, "{kind:?}: {text}");
        }
        let python = snippet(SnippetKind::Python, "k", &models);
        assert!(python.contains("from openai import OpenAI") && python.contains("os.environ[\"OPENROUTER_API_KEY\"]"));
        let ts = snippet(SnippetKind::TypeScript, "k", &models);
        assert!(ts.contains("import OpenAI from \"openai\"") && ts.contains("baseURL:"));
        assert!(snippet(SnippetKind::Curl, "k", &models).contains("Authorization: Bearer $OPENROUTER_API_KEY"));
    }

    #[test]
    fn one_model_means_no_also_line() {
        assert!(!snippet(SnippetKind::Env, "k", &[model("a/b")]).contains("Also allowed"));
    }

    #[test]
    fn unknown_tab_falls_back_to_env() {
        assert_eq!(SnippetKind::from_id(Some("python")), SnippetKind::Python);
        assert_eq!(SnippetKind::from_id(Some("<script>")), SnippetKind::Env);
        assert_eq!(SnippetKind::from_id(None), SnippetKind::Env);
    }
}
