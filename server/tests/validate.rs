//! `server validate`: the build's check, for a pull request (the real binary, real files).

use std::path::Path;
use std::process::Command;

fn validate(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_server")).arg("validate").args(args).current_dir(dir).output().unwrap();
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
