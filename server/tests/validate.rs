//! `server validate`: the build's check, for a pull request (the real binary, real files).

use std::path::Path;
use std::process::Command;

fn validate(dir: &Path, args: &[&str]) -> (i32, String, String) {
    validate_in(dir, args, false)
}

/// As `validate`, in GitHub Actions or not: GITHUB_ACTIONS is set or removed, so the plain output
/// is what is tested even when these tests run in GitHub's CI.
fn validate_in(dir: &Path, args: &[&str], github_actions: bool) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    if github_actions {
        command.env("GITHUB_ACTIONS", "true");
    } else {
        command.env_remove("GITHUB_ACTIONS");
    }
    let output = command.arg("validate").args(args).current_dir(dir).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.code().unwrap(), text(&output.stdout), text(&output.stderr))
}

/// The repository's demo workshop, renamed to `slug` and changed by `edit`.
fn write_workshop(dir: &Path, slug: &str, edit: impl Fn(String) -> String) -> String {
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../workshops/demo/demo.yaml")).unwrap();
    let yaml = edit(demo.replace("slug: demo\n", &format!("slug: {slug}\n")));
    std::fs::write(dir.join(format!("{slug}.yaml")), yaml).unwrap();
    format!("{slug}.yaml")
}

#[test]
fn validate_accepts_good_files_and_names_file_and_field_like_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_workshop(dir.path(), "good", |y| y.replace("key_label_prefix: demo", "key_label_prefix: good"));
    let (code, out, err) = validate(dir.path(), &[&good]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "ok: good.yaml\n", ""));

    let broken = write_workshop(dir.path(), "broken", |y| {
        y.replace("key_label_prefix: demo", "key_label_prefix: broken").replace("budget_usd: 2.00", "budget_usd: 0")
    });
    let (code, out, err) = validate(dir.path(), &[&good, &broken]);
    assert_eq!(code, 1);
    assert_eq!(out, "ok: good.yaml\n", "the good file is still reported good");
    assert_eq!(err, "invalid workshop file: broken.yaml: field `openrouter.budget_usd`: must be greater than 0\n");

    // Keys claimed at the close would be born expired (the demo ends 18:00, keys live 60 min more).
    let late = write_workshop(dir.path(), "late", |y| {
        y.replace("key_label_prefix: demo", "key_label_prefix: late")
            .replace("claims_close_at: \"2030-12-31T17:00:00+01:00\"", "claims_close_at: \"2030-12-31T19:00:00+01:00\"")
    });
    let (code, _, err) = validate(dir.path(), &[&late]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "invalid workshop file: late.yaml: field `claims_close_at`: must be before the keys expire at \
         2030-12-31T19:00:00+01:00 (ends_at + openrouter.expires_buffer_minutes): a key claimed at the close \
         would be born expired\n"
    );

    // Against the built-in workshops too: another workshop's key name prefix is refused.
    let copy = write_workshop(dir.path(), "copy", |y| y);
    let (code, _, err) = validate(dir.path(), &[&copy]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "invalid workshop file: copy.yaml: field `openrouter.key_label_prefix`: `demo` is also used by \
         workshops/demo/demo.yaml; their keys could not be told apart\n"
    );
    // A file with a built-in slug is that workshop's new version, not a clash.
    let demo = write_workshop(dir.path(), "demo", |y| y.replace("max_keys: 300", "max_keys: 250"));
    assert_eq!(validate(dir.path(), &[&demo]).0, 0);

    let (code, _, err) = validate(dir.path(), &["missing.yaml"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("invalid workshop file: missing.yaml: cannot read:"), "{err}");
}

#[test]
fn validate_without_arguments_checks_the_repository_like_the_build() {
    let repo = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let (code, out, err) = validate(repo, &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.contains("ok: workshops/demo/demo.yaml\n") && out.contains("ok: workshops/demo/demo-small.yaml\n"),
        "{out}"
    );
    assert!(out.contains("ok: examples/workshops/pycon-de-2026-agents.yaml\n"), "{out}");
}

/// A good workshop file of the tests' own (the repository's files move), its lines numbered for
/// the annotations below; slug and key name prefix are `slug`.
fn annotated_workshop(dir: &Path, slug: &str, edit: impl Fn(String) -> String) -> String {
    let yaml = "\
# A workshop for the annotation tests.
slug: SLUG
name: Annotation test
event: Tests
location: Room 1
starts_at: \"2026-01-01T09:00:00+01:00\"
ends_at: \"2026-01-01T18:00:00+01:00\"
claims_open_at: \"2026-01-01T08:30:00+01:00\"
claims_close_at: \"2026-01-01T17:00:00+01:00\"
openrouter:
  budget_usd: 2.00
  key_label_prefix: SLUG
  models:
    - id: vendor/model-a
      label: Model A
      price_in_per_mtok: 0.02
      price_out_per_mtok: 0.05
    - id: vendor/model-b
      label: Model B
      price_in_per_mtok: 0.05
      price_out_per_mtok: 0.10
  guardrail:
    cap_usd: 600
    reset_interval: monthly
    max_keys: 300
";
    std::fs::write(dir.join(format!("{slug}.yaml")), edit(yaml.replace("SLUG", slug))).unwrap();
    format!("{slug}.yaml")
}

#[test]
fn in_github_actions_each_problem_is_an_annotation_on_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let annotations = |file: &str| {
        let (code, out, err) = validate_in(dir.path(), &[file], true);
        assert_eq!(code, 1);
        // The plain report is unchanged, on stderr as before.
        assert_eq!(err, validate_in(dir.path(), &[file], false).2);
        out
    };
    let good = annotated_workshop(dir.path(), "gh-good", |y| y);
    assert_eq!(validate_in(dir.path(), &[&good], true), (0, "ok: gh-good.yaml\n".into(), String::new()));

    // Not YAML: where the parser stopped (a colon in a plain value, as organisers write them).
    let syntax = annotated_workshop(dir.path(), "gh-syntax", |y| y.replace("Room 1", "Room: 1"));
    assert_eq!(
        annotations(&syntax),
        "::error file=gh-syntax.yaml,line=5,col=15,title=invalid YAML::field `(document)`: mapping values are not \
         allowed in this context at line 5 column 15\n"
    );
    // serde's shape errors carry the position of the offending key.
    let unknown = annotated_workshop(dir.path(), "gh-unknown", |y| y.replace("max_keys: 300", "max_key: 300"));
    assert_eq!(
        annotations(&unknown),
        "::error file=gh-unknown.yaml,line=25,col=5,title=invalid openrouter.guardrail::field \
         `openrouter.guardrail`: unknown field `max_key`, expected one of `cap_usd`, `reset_interval`, `max_keys` \
         at line 25 column 5\n"
    );
    // The rules checked after parsing: the field's key, found in the text.
    let model = annotated_workshop(dir.path(), "gh-model", |y| y.replace("id: vendor/model-b", "id: model-b"));
    assert_eq!(
        annotations(&model),
        "::error file=gh-model.yaml,line=18,col=7,title=invalid openrouter.models[1].id::field \
         `openrouter.models[1].id`: `model-b` must look like vendor/model\n"
    );
    // Across files: on the later file, at its key.
    let clash = annotated_workshop(dir.path(), "gh-clash", |y| {
        y.replace("key_label_prefix: gh-clash", "key_label_prefix: gh-good")
    });
    let (code, out, _) = validate_in(dir.path(), &[&good, &clash], true);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "ok: gh-good.yaml\n::error file=gh-clash.yaml,line=12,col=3,title=invalid openrouter.key_label_prefix::field \
         `openrouter.key_label_prefix`: `gh-good` is also used by gh-good.yaml; their keys could not be told apart\n"
    );

    // Outside GitHub Actions, none.
    let (code, out, _) = validate_in(dir.path(), &[&good, &syntax, &unknown, &model, &clash], false);
    assert_eq!((code, out.as_str()), (1, "ok: gh-good.yaml\n"));
}
