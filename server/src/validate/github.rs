//! In GitHub Actions (`GITHUB_ACTIONS=true`), each problem is also printed as a workflow command
//! (`::error file=…,line=…,col=…,title=…::…`), so GitHub shows it on that line of the pull
//! request's diff, where the organiser who opened it is looking.

use std::collections::HashMap;

use app::workshops::SpecError;

use super::locate::locate;

/// The annotations of one run; empty outside GitHub Actions, so the output stays as it was.
pub struct Annotations {
    enabled: bool,
    /// The text of each file that parsed, for errors found across files later.
    texts: HashMap<String, String>,
    lines: Vec<String>,
}

impl Annotations {
    pub fn from_env() -> Self {
        Self::new(std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"))
    }

    fn new(enabled: bool) -> Self {
        Annotations { enabled, texts: HashMap::new(), lines: Vec::new() }
    }

    /// Keeps a good file's text: `check_across` may still find a clash in it.
    pub fn parsed(&mut self, shown: &str, text: String) {
        if self.enabled {
            self.texts.insert(shown.to_string(), text);
        }
    }

    /// A problem in the file as a whole (not readable, not `.yaml`): no line to point at.
    pub fn file(&mut self, shown: &str, message: &str) {
        if self.enabled {
            self.lines.push(command(shown, None, "invalid workshop file", message));
        }
    }

    /// A problem at a field: where serde_yaml stopped if it did (syntax, unknown or missing
    /// field, wrong type), else that field's line in `text` (or in the text kept by `parsed`).
    pub fn field(&mut self, shown: &str, text: Option<&str>, error: &SpecError) {
        if !self.enabled {
            return;
        }
        let text = text.or_else(|| self.texts.get(shown).map(String::as_str));
        let at = error.location.or_else(|| text.and_then(|text| locate(text, &error.field)));
        let title =
            if error.field == "(document)" { "invalid YAML".to_string() } else { format!("invalid {}", error.field) };
        self.lines.push(command(shown, at, &title, &error.to_string()));
    }

    /// On stdout, where the runner reads workflow commands.
    pub fn print(&self) {
        for line in &self.lines {
            println!("{line}");
        }
    }
}

/// `::error file=…,line=…,col=…,title=…::message`, escaped as GitHub's runner unescapes it.
fn command(file: &str, at: Option<(usize, usize)>, title: &str, message: &str) -> String {
    let at = at.map(|(line, col)| format!(",line={line},col={col}")).unwrap_or_default();
    format!("::error file={}{at},title={}::{}", escape_property(file), escape_property(title), escape_data(message))
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Property values also end at `,` and the message starts after `::`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_escaped_as_the_runner_expects() {
        assert_eq!(
            command("w/a,b:c.yaml", Some((3, 7)), "invalid x", "100% wrong\r\nreally"),
            "::error file=w/a%2Cb%3Ac.yaml,line=3,col=7,title=invalid x::100%25 wrong%0D%0Areally"
        );
        assert_eq!(command("a.yaml", None, "t: u", "m: n, o"), "::error file=a.yaml,title=t%3A u::m: n, o");
    }

    #[test]
    fn nothing_is_collected_outside_github_actions() {
        let mut off = Annotations::new(false);
        off.file("a.yaml", "cannot read");
        off.parsed("b.yaml", "slug: b\n".into());
        assert!(off.lines.is_empty() && off.texts.is_empty());
    }

    #[test]
    fn a_field_error_points_at_the_field_or_where_the_parser_stopped() {
        let mut on = Annotations::new(true);
        let error = |field: &str, location| SpecError { field: field.into(), message: "bad".into(), location };
        on.parsed("a.yaml", "slug: a\nopenrouter:\n  key_label_prefix: a\n".into());
        on.field("a.yaml", None, &error("openrouter.key_label_prefix", None));
        on.field("b.yaml", Some("x: 1\n"), &error("(document)", Some((1, 2))));
        on.field("c.yaml", Some("x: 1\n"), &error("y", None));
        assert_eq!(
            on.lines,
            [
                "::error file=a.yaml,line=3,col=3,title=invalid openrouter.key_label_prefix::field \
                 `openrouter.key_label_prefix`: bad",
                "::error file=b.yaml,line=1,col=2,title=invalid YAML::field `(document)`: bad",
                "::error file=c.yaml,title=invalid y::field `y`: bad",
            ]
        );
    }
}
