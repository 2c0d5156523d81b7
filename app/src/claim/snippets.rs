//! Ready-to-paste code for the attendee's key, built from the workshop's models. Each tab says
//! exactly what to do with it: the file to save it as, the one install line, the one command that
//! runs it, all in a fresh folder that holds the `.env` tab's file. The real clients run every tab
//! as the page shows it (`server/tests/snippets_run.rs`).

/// The OpenAI-compatible endpoint every snippet talks to.
pub const OPENROUTER_API_BASE: &str = "https://openrouter.ai/api/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnippetKind {
    Env,
    Python,
    Notebook,
    JavaScript,
    Curl,
}

impl SnippetKind {
    pub const ALL: [SnippetKind; 5] =
        [SnippetKind::Env, SnippetKind::Python, SnippetKind::Notebook, SnippetKind::JavaScript, SnippetKind::Curl];

    /// The tab's name in the URL (`?snippet=python`).
    pub fn id(self) -> &'static str {
        match self {
            SnippetKind::Env => "env",
            SnippetKind::Python => "python",
            SnippetKind::Notebook => "notebook",
            SnippetKind::JavaScript => "javascript",
            SnippetKind::Curl => "curl",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SnippetKind::Env => ".env",
            SnippetKind::Python => "Python",
            SnippetKind::Notebook => "Notebook",
            SnippetKind::JavaScript => "JavaScript (Node)",
            SnippetKind::Curl => "curl",
        }
    }

    /// The tab named `id`; the first tab for anything else.
    pub fn from_id(id: Option<&str>) -> SnippetKind {
        Self::ALL.into_iter().find(|k| Some(k.id()) == id).unwrap_or(SnippetKind::Env)
    }
}

/// One block to paste: a file, or a notebook cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// What the block is: a file name (`main.py`) or a cell's title (`Cell 2: your key`).
    pub title: String,
    /// The file to save it as; `None` for a notebook cell.
    pub file: Option<&'static str>,
    pub code: String,
}

/// A tab: what to paste, and what to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub kind: SnippetKind,
    /// One sentence before the blocks.
    pub intro: &'static str,
    pub blocks: Vec<Block>,
    /// The one install line, if the tab needs one (in the folder with the files).
    pub install: Option<&'static str>,
    /// The one command that runs it (in the folder with the files and `.env`).
    pub run: Option<&'static str>,
}

/// The snippet of `kind`, for the workshop's model ids in file order. The first model is the one
/// used; the others are listed in a comment. Only `.env` holds the key (and a notebook asks for
/// it): code never does.
pub fn snippet(kind: SnippetKind, key: &str, models: &[String]) -> Snippet {
    let model = models.first().map_or("openrouter/auto", String::as_str);
    let others = models.iter().skip(1).map(String::as_str).collect::<Vec<_>>().join(", ");
    let also = |comment: &str| {
        if others.is_empty() {
            String::new()
        } else {
            format!("{comment} Also allowed: {others}\n")
        }
    };
    let file = |name: &'static str, code: String| Block { title: name.to_string(), file: Some(name), code };
    let cell = |title: &str, code: String| Block { title: title.to_string(), file: None, code };
    match kind {
        SnippetKind::Env => Snippet {
            kind,
            intro: "Save this as .env in your project folder: the other tabs read your key from it. Keep it out of git.",
            blocks: vec![file(
                ".env",
                format!(
                    "OPENROUTER_API_KEY={key}\nOPENROUTER_BASE_URL={OPENROUTER_API_BASE}\nOPENROUTER_MODEL={model}\n{}",
                    also("#")
                ),
            )],
            install: None,
            run: None,
        },
        SnippetKind::Python => Snippet {
            kind,
            intro: "Save this as main.py next to .env.",
            blocks: vec![file(
                "main.py",
                format!(
                    "import os\n\nfrom dotenv import load_dotenv\nfrom openai import OpenAI\n\n\
                     load_dotenv()  # puts OPENROUTER_API_KEY from .env into the environment\n\n\
                     client = OpenAI(\n    base_url=\"{OPENROUTER_API_BASE}\",\n    \
                     api_key=os.environ[\"OPENROUTER_API_KEY\"],\n)\n{}\
                     reply = client.chat.completions.create(\n    model=\"{model}\",\n    \
                     messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n)\n\
                     print(reply.choices[0].message.content)\n",
                    also("#")
                ),
            )],
            install: Some("pip install openai python-dotenv"),
            run: Some("python main.py"),
        },
        SnippetKind::Notebook => Snippet {
            kind,
            intro: "For Jupyter and Google Colab: paste each cell into a new notebook and run them in order. \
                    The key is asked for, not written into the notebook.",
            blocks: vec![
                cell("Cell 1: install", "%pip install --quiet openai\n".to_string()),
                cell(
                    "Cell 2: your key",
                    "import os\nfrom getpass import getpass\n\n\
                     # Paste your key when asked; it stays out of the notebook file.\n\
                     if not os.environ.get(\"OPENROUTER_API_KEY\"):\n    \
                     os.environ[\"OPENROUTER_API_KEY\"] = getpass(\"OpenRouter key: \")\n"
                        .to_string(),
                ),
                cell(
                    "Cell 3: ask a model",
                    format!(
                        "from openai import OpenAI\n\nclient = OpenAI(\n    base_url=\"{OPENROUTER_API_BASE}\",\n    \
                         api_key=os.environ[\"OPENROUTER_API_KEY\"],\n)\n{}\
                         reply = client.chat.completions.create(\n    model=\"{model}\",\n    \
                         messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n)\n\
                         print(reply.choices[0].message.content)\n",
                        also("#")
                    ),
                ),
            ],
            install: None,
            run: None,
        },
        SnippetKind::JavaScript => Snippet {
            kind,
            intro: "Save this as main.mjs next to .env (Node.js 20.6 or newer reads .env itself).",
            blocks: vec![file(
                "main.mjs",
                format!(
                    "import OpenAI from \"openai\";\n\nconst client = new OpenAI({{\n  \
                     baseURL: \"{OPENROUTER_API_BASE}\",\n  apiKey: process.env.OPENROUTER_API_KEY,\n}});\n{}\
                     const reply = await client.chat.completions.create({{\n  model: \"{model}\",\n  \
                     messages: [{{ role: \"user\", content: \"Hello!\" }}],\n}});\n\
                     console.log(reply.choices[0].message.content);\n",
                    also("//")
                ),
            )],
            install: Some("npm install openai"),
            run: Some("node --env-file=.env main.mjs"),
        },
        SnippetKind::Curl => Snippet {
            kind,
            intro: "Save this as hello.sh next to .env (macOS, Linux, or Git Bash on Windows).",
            blocks: vec![file(
                "hello.sh",
                format!(
                    "set -a; . ./.env; set +a  # OPENROUTER_API_KEY from .env\n{}\
                     curl -sS {OPENROUTER_API_BASE}/chat/completions \\\n  \
                     -H \"Authorization: Bearer $OPENROUTER_API_KEY\" \\\n  \
                     -H \"Content-Type: application/json\" \\\n  \
                     -d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}]}}'\n",
                    also("#")
                ),
            )],
            install: None,
            run: Some("bash hello.sh"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str) -> String {
        id.to_string()
    }

    fn text(snippet: &Snippet) -> String {
        snippet.blocks.iter().map(|b| b.code.as_str()).collect()
    }

    #[test]
    fn every_snippet_uses_the_workshop_models_and_never_another() {
        let models = [model("openai/gpt-4o-mini"), model("anthropic/claude-3.5-haiku")];
        for kind in SnippetKind::ALL {
            let snippet = snippet(kind, "sk-or-v1-abc", &models);
            let text = text(&snippet);
            assert!(
                text.contains("\"openai/gpt-4o-mini\"") || text.contains("=openai/gpt-4o-mini"),
                "{kind:?}: {text}"
            );
            assert!(text.contains("Also allowed: anthropic/claude-3.5-haiku"), "{kind:?}: {text}");
            assert!(text.contains(OPENROUTER_API_BASE), "{kind:?}: {text}");
            // The key is pasted once, into .env; code reads it from there (or asks for it).
            assert_eq!(text.contains("sk-or-v1-abc"), kind == SnippetKind::Env, "{kind:?}: {text}");
        }
    }

    #[test]
    fn each_tab_names_its_file_and_the_command_that_runs_it() {
        let models = [model("openai/gpt-4o-mini")];
        let runs: Vec<_> = SnippetKind::ALL
            .into_iter()
            .map(|kind| {
                let s = snippet(kind, "k", &models);
                (s.blocks.iter().filter_map(|b| b.file).collect::<Vec<_>>(), s.install, s.run)
            })
            .collect();
        assert_eq!(
            runs,
            [
                (vec![".env"], None, None),
                (vec!["main.py"], Some("pip install openai python-dotenv"), Some("python main.py")),
                (vec![], None, None),
                (vec!["main.mjs"], Some("npm install openai"), Some("node --env-file=.env main.mjs")),
                (vec!["hello.sh"], None, Some("bash hello.sh")),
            ]
        );
        // Python loads .env itself; the notebook asks for the key instead of holding it.
        assert!(text(&snippet(SnippetKind::Python, "k", &models)).contains("load_dotenv()"));
        let notebook = snippet(SnippetKind::Notebook, "k", &models);
        assert_eq!(notebook.blocks.len(), 3);
        assert!(notebook.blocks[0].code.starts_with("%pip install"));
        assert!(notebook.blocks[1].code.contains("getpass(\"OpenRouter key: \")"));
        // The JavaScript is an ES module with top-level await: .mjs, run by Node with .env.
        assert!(text(&snippet(SnippetKind::JavaScript, "k", &models)).contains("const reply = await"));
        assert!(text(&snippet(SnippetKind::Curl, "k", &models)).contains(". ./.env"));
    }

    #[test]
    fn one_model_means_no_also_line() {
        assert!(!text(&snippet(SnippetKind::Env, "k", &[model("a/b")])).contains("Also allowed"));
    }

    #[test]
    fn unknown_tab_falls_back_to_env() {
        assert_eq!(SnippetKind::from_id(Some("python")), SnippetKind::Python);
        assert_eq!(SnippetKind::from_id(Some("typescript")), SnippetKind::Env);
        assert_eq!(SnippetKind::from_id(Some("<script>")), SnippetKind::Env);
        assert_eq!(SnippetKind::from_id(None), SnippetKind::Env);
    }
}
