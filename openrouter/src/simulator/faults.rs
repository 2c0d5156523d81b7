//! The grammar of fault and latency rules (see [`Simulator::apply_fault_spec`]) and its parsing.
//! The rules are kept in the state and applied by the `gate` every request passes.

use std::time::Duration;

use axum::http::Method;

/// Which requests a fault or latency rule applies to: an optional method and a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) method: Option<Method>,
    /// `None` = any path.
    pub(super) pattern: Option<PathPattern>,
}

/// Substring of the path relative to the API base; `^` / `$` anchor it at the start / end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PathPattern {
    pub(super) text: String,
    pub(super) at_start: bool,
    pub(super) at_end: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FaultAction {
    Status { status: u16, retry_after_secs: Option<u64> },
    Hang,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fault {
    pub(super) target: Target,
    pub(super) action: FaultAction,
    /// Perform the operation first, then answer the fault (an "ambiguous" failure).
    pub(super) after_apply: bool,
    pub(super) remaining: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LatencyRule {
    pub(super) target: Target,
    pub(super) delay: Duration,
}

/// One parsed rule of a fault spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Rule {
    Fault(Fault),
    Latency(LatencyRule),
}

// ---- fault targets and the fault spec -----------------------------------------------------------

const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "DELETE", "PUT"];

fn parse_method(s: &str) -> Option<Method> {
    let up = s.to_ascii_uppercase();
    METHODS.contains(&up.as_str()).then(|| Method::from_bytes(up.as_bytes()).ok()).flatten()
}

impl PathPattern {
    fn parse(s: &str) -> Option<Self> {
        if s == "*" {
            return None;
        }
        let (at_start, s) = match s.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (at_end, s) = match s.strip_suffix('$') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        Some(Self { text: s.to_owned(), at_start, at_end })
    }

    fn matches(&self, path: &str) -> bool {
        match (self.at_start, self.at_end) {
            (true, true) => path == self.text,
            (true, false) => path.starts_with(&self.text),
            (false, true) => path.ends_with(&self.text),
            (false, false) => path.contains(&self.text),
        }
    }
}

impl Target {
    /// `"*"`, `"METHOD"`, `"pattern"` or `"METHOD pattern"`; never fails (anything that is not
    /// a method is a pattern).
    pub(super) fn parse(s: &str) -> Self {
        let s = s.trim();
        if let Some((m, rest)) = s.split_once(char::is_whitespace) {
            if let Some(method) = parse_method(m) {
                return Self { method: Some(method), pattern: PathPattern::parse(rest.trim()) };
            }
        }
        match parse_method(s) {
            Some(method) => Self { method: Some(method), pattern: None },
            None => Self { method: None, pattern: PathPattern::parse(s) },
        }
    }

    pub(super) fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method) && self.pattern.as_ref().is_none_or(|p| p.matches(path))
    }
}

impl FaultAction {
    pub(super) fn status(status: u16) -> Self {
        Self::Status { status, retry_after_secs: None }
    }
}

/// See [`Simulator::apply_fault_spec`].
pub(super) fn parse_fault_spec(spec: &str) -> Result<Vec<Rule>, String> {
    spec.split(';')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .enumerate()
        .map(|(i, r)| parse_rule(r).map_err(|e| format!("rule {} `{r}`: {e}", i + 1)))
        .collect()
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    let (target, action) = rule.split_once('=').ok_or("expected `target=action`")?;
    let target = parse_spec_target(target.trim())?;
    let tokens = action_tokens(action);
    let (head, mods) = tokens.split_first().ok_or("missing action")?;
    if head.eq_ignore_ascii_case("latency") {
        let [d] = mods else {
            return Err("expected `latency <N>ms` or `latency <N>s`".into());
        };
        return Ok(Rule::Latency(LatencyRule { target, delay: parse_duration(d)? }));
    }
    let mut action = if head.eq_ignore_ascii_case("hang") {
        FaultAction::Hang
    } else {
        let status: u16 =
            head.parse().map_err(|_| format!("unknown action `{head}` (a status, `hang` or `latency`)"))?;
        if !(400..=599).contains(&status) {
            return Err(format!("status {status} is not an error status (400..=599)"));
        }
        FaultAction::status(status)
    };
    let (mut count, mut after_apply) = (None, false);
    for m in mods {
        let lower = m.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix('x') {
            let n: u32 = n.parse().map_err(|_| format!("bad count `{m}` (expected x<N>)"))?;
            if n == 0 {
                return Err("count must be at least 1".into());
            }
            if count.replace(n).is_some() {
                return Err("count given twice".into());
            }
        } else if lower == "after" {
            after_apply = true;
        } else if let Some(secs) = lower.strip_prefix("retry-after=") {
            let FaultAction::Status { retry_after_secs, .. } = &mut action else {
                return Err("retry-after only applies to a status".into());
            };
            *retry_after_secs = Some(secs.parse().map_err(|_| format!("bad retry-after `{secs}` (whole seconds)"))?);
        } else {
            return Err(format!("unknown modifier `{m}`"));
        }
    }
    Ok(Rule::Fault(Fault { target, action, after_apply, remaining: count.unwrap_or(1) }))
}

fn parse_spec_target(s: &str) -> Result<Target, String> {
    if s.is_empty() {
        return Err("missing target".into());
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() > 2 {
        return Err("target is `*`, `METHOD`, `pattern` or `METHOD pattern`".into());
    }
    if words.len() == 2 && parse_method(words[0]).is_none() {
        return Err(format!("unknown method `{}`", words[0]));
    }
    let target = Target::parse(s);
    if target.pattern.as_ref().is_some_and(|p| p.text.is_empty() && !(p.at_start && p.at_end)) {
        return Err("empty path pattern".into());
    }
    Ok(target)
}

/// Whitespace-separated tokens, with `500x2` / `hangx2` split and `x 2` joined into `x2`.
fn action_tokens(action: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in action.split_whitespace() {
        if let Some((head, n)) = t.split_once(['x', 'X']) {
            let head_ok =
                head.eq_ignore_ascii_case("hang") || (!head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()));
            if head_ok && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                out.push(head.to_owned());
                out.push(format!("x{n}"));
                continue;
            }
        }
        match out.last_mut() {
            Some(prev) if prev.eq_ignore_ascii_case("x") => prev.push_str(t),
            _ => out.push(t.to_owned()),
        }
    }
    out
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration `{s}` (expected <N>ms or <N>s)");
    let lower = s.to_ascii_lowercase();
    if let Some(ms) = lower.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    if let Some(secs) = lower.strip_suffix('s') {
        return secs.parse().map(Duration::from_secs).map_err(|_| bad());
    }
    Err(bad())
}
