//! Where in a workshop file a field is: the line and column of `openrouter.models[1].id`, as
//! `SpecError::field` names it, so a pull request's annotation lands on that line. serde_yaml
//! keeps no positions once it has deserialised, so the text is read again with saphyr-parser,
//! whose events carry them.

use saphyr_parser::{Event, Parser, Span};

/// A node of the document: a sequence keeps where each item starts, a mapping where each key is
/// (entries whose key is not a scalar are left out: no field path names them).
enum Node {
    Scalar(String),
    Sequence(Vec<(Span, Node)>),
    Mapping(Vec<(String, Span, Node)>),
    /// An alias: nothing to look into.
    Other,
}

/// One step of a field path: `models` or `[1]`.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The 1-based (line, column) of `field` in `yaml`: the key of a map entry, or the start of a
/// sequence item. When the path goes on past what the file holds (a missing field), the deepest
/// part that is there; `None` when not even the first step is, or the text is not YAML.
pub fn locate(yaml: &str, field: &str) -> Option<(usize, usize)> {
    let mut events = Parser::new_from_str(yaml).map_while(Result::ok);
    // StreamStart, DocumentStart, then the root node (only the first document counts, as in serde_yaml).
    let (first, _) = events.find(|(e, _)| !matches!(e, Event::StreamStart | Event::DocumentStart(_)))?;
    let root = node(first, &mut events)?;
    let mut at = None;
    let mut here = &root;
    for step in steps(field) {
        let found = match (step, here) {
            (Step::Key(key), Node::Mapping(entries)) => {
                entries.iter().find(|(k, _, _)| k == key).map(|(_, span, value)| (span, value))
            }
            (Step::Index(i), Node::Sequence(items)) => items.get(i).map(|(span, item)| (span, item)),
            _ => None,
        };
        let Some((span, next)) = found else { break };
        // saphyr's lines are 1-based and its columns 0-based; GitHub wants both 1-based.
        at = Some((span.start.line(), span.start.col() + 1));
        here = next;
    }
    at
}

/// `openrouter.models[1].id` → `openrouter`, `models`, `[1]`, `id`; a step that does not parse
/// ends the path there.
fn steps(field: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    for part in field.split('.') {
        let mut pieces = part.split('[');
        let key = pieces.next().unwrap_or_default();
        if !key.is_empty() {
            steps.push(Step::Key(key));
        }
        for index in pieces {
            match index.strip_suffix(']').and_then(|i| i.parse().ok()) {
                Some(i) => steps.push(Step::Index(i)),
                None => return steps,
            }
        }
    }
    steps
}

/// The node that starts with `event`, reading the rest of it from `events`; `None` if the events
/// end first.
fn node<'a>(event: Event<'a>, events: &mut impl Iterator<Item = (Event<'a>, Span)>) -> Option<Node> {
    Some(match event {
        Event::Scalar(value, ..) => Node::Scalar(value.into_owned()),
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            loop {
                match events.next()? {
                    (Event::SequenceEnd, _) => break Node::Sequence(items),
                    (event, span) => items.push((span, node(event, events)?)),
                }
            }
        }
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            loop {
                let (key, key_span) = match events.next()? {
                    (Event::MappingEnd, _) => break Node::Mapping(entries),
                    (event, span) => (node(event, events)?, span),
                };
                let value = node(events.next()?.0, events)?;
                if let Node::Scalar(key) = key {
                    entries.push((key, key_span, value));
                }
            }
        }
        _ => Node::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
# a comment
slug: demo
openrouter:
  budget_usd: 2.00
  models:
    - id: vendor/one
      label: One
    -   id: vendor/two
        label: Two
  guardrail: {cap_usd: 600, max_keys: 3}
organisers: [a@example.org, not-an-email]
crew:
  - x@example.org
  - 'y'
";

    #[test]
    fn steps_split_keys_and_indexes() {
        assert_eq!(
            steps("openrouter.models[1].id"),
            [Step::Key("openrouter"), Step::Key("models"), Step::Index(1), Step::Key("id")]
        );
        assert_eq!(steps("organisers[0]"), [Step::Key("organisers"), Step::Index(0)]);
        assert_eq!(steps("a[x].b"), [Step::Key("a")], "a step that does not parse ends it");
    }

    #[test]
    fn finds_keys_and_items_at_any_depth() {
        assert_eq!(locate(YAML, "slug"), Some((2, 1)));
        assert_eq!(locate(YAML, "openrouter.budget_usd"), Some((4, 3)));
        assert_eq!(locate(YAML, "openrouter.models[0].id"), Some((6, 7)));
        assert_eq!(locate(YAML, "openrouter.models[1].label"), Some((9, 9)));
        assert_eq!(locate(YAML, "openrouter.models[1]"), Some((8, 9)), "an item starts at its content");
        // Flow collections too.
        assert_eq!(locate(YAML, "openrouter.guardrail.max_keys"), Some((10, 29)));
        assert_eq!(locate(YAML, "organisers[1]"), Some((11, 29)));
        assert_eq!(locate(YAML, "crew[1]"), Some((14, 5)));
    }

    #[test]
    fn a_missing_part_points_at_the_deepest_part_that_is_there() {
        assert_eq!(locate(YAML, "openrouter.guardrail.reset_interval"), Some((10, 3)));
        assert_eq!(locate(YAML, "openrouter.models[5].id"), Some((5, 3)));
        assert_eq!(locate(YAML, "slug.deeper"), Some((2, 1)));
        assert_eq!(locate(YAML, "nothing"), None);
        assert_eq!(locate(YAML, "(document)"), None);
    }

    #[test]
    fn text_that_is_not_yaml_has_no_position() {
        assert_eq!(locate("slug: [unclosed", "slug"), None);
        assert_eq!(locate("", "slug"), None);
    }
}
