//! Every rule of the workshop file format, one failing file per rule.

use chrono::{TimeZone, Utc};

use super::{parse, ResetInterval, WindowState};

const VALID: &str = r#"
slug: t
name: Test
event: Event
location: Room 1
starts_at: "2026-04-15T14:00:00+02:00"
ends_at: "2026-04-15T15:30:00+02:00"
claims_open_at: "2026-04-15T13:30:00+02:00"
claims_close_at: "2026-04-15T15:30:00+02:00"
welcome_message: "Hi"
openrouter:
  budget_usd: 2.5
  key_label_prefix: t
  expires_buffer_minutes: 60
  models:
    - { id: openai/gpt-4o-mini, label: Mini, note: n, price_in_per_mtok: 0.15, price_out_per_mtok: 0.6 }
  guardrail: { cap_usd: 10, reset_interval: daily, max_keys: 100 }
"#;

/// The field named by the error of `VALID` with `from` replaced by `to`.
fn field_of(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from}");
    parse("t", &VALID.replacen(from, to, 1)).expect_err(&format!("{from} -> {to} must fail")).field
}

#[test]
fn valid_file_parses_with_exact_money() {
    let w = parse("t", VALID).unwrap();
    assert_eq!(w.openrouter.budget_usd.to_string(), "2.5");
    assert_eq!(w.openrouter.models[0].price_in_per_mtok.to_string(), "0.15");
    assert_eq!(w.openrouter.guardrail.reset_interval, ResetInterval::Daily);
    assert!(w.is_active, "is_active defaults to true");
    assert_eq!(w.key_expires_at(), Utc.with_ymd_and_hms(2026, 4, 15, 14, 30, 0).unwrap());
    assert_eq!(w.guardrail_name(), "workshop-t");
    assert_eq!(w.pool_size(), 4, "min(max_keys 100, cap 10 / budget 2.5)");
}

#[test]
fn shipped_workshops_are_valid() {
    parse("demo", include_str!("../../../workshops/demo/demo.yaml")).unwrap();
    parse("pycon-de-2026-agents", include_str!("../../../examples/workshops/pycon-de-2026-agents.yaml")).unwrap();
}

#[test]
fn each_rule_names_its_field() {
    assert_eq!(parse("other", VALID).unwrap_err().field, "slug");
    assert_eq!(field_of("slug: t", "slug: T"), "slug");
    assert_eq!(parse("a_b", &VALID.replacen("slug: t", "slug: a_b", 1)).unwrap_err().field, "slug");
    assert_eq!(field_of("name: Test", "name: \" \""), "name");
    assert_eq!(field_of("ends_at: \"2026-04-15T15:30:00+02:00\"", "ends_at: \"2026-04-15T13:00:00+02:00\""), "ends_at");
    assert_eq!(
        field_of("claims_close_at: \"2026-04-15T15:30:00+02:00\"", "claims_close_at: \"2026-04-15T13:00:00+02:00\""),
        "claims_close_at"
    );
    // Claims that close when the keys expire would mint keys born expired.
    let late_close = VALID.replacen(
        "claims_close_at: \"2026-04-15T15:30:00+02:00\"",
        "claims_close_at: \"2026-04-15T16:30:00+02:00\"",
        1,
    );
    let born_expired = parse("t", &late_close).unwrap_err();
    assert_eq!(born_expired.field, "claims_close_at");
    assert!(born_expired.message.contains("born expired"), "{born_expired}");
    let with_buffer = late_close.replacen("expires_buffer_minutes: 60", "expires_buffer_minutes: 61", 1);
    assert!(parse("t", &with_buffer).is_ok(), "a minute of life is allowed");
    assert_eq!(field_of("budget_usd: 2.5", "budget_usd: 0"), "openrouter.budget_usd");
    assert_eq!(field_of("cap_usd: 10", "cap_usd: 2"), "openrouter.guardrail.cap_usd");
    assert_eq!(field_of("max_keys: 100", "max_keys: 0"), "openrouter.guardrail.max_keys");
    assert_eq!(field_of("id: openai/gpt-4o-mini", "id: gpt-4o-mini"), "openrouter.models[0].id");
    assert_eq!(field_of("id: openai/gpt-4o-mini", "id: openai/"), "openrouter.models[0].id");
    let twice = VALID.replacen(
        "  guardrail:",
        "    - { id: openai/gpt-4o-mini, label: Again, price_in_per_mtok: 1, price_out_per_mtok: 1 }\n  guardrail:",
        1,
    );
    assert_eq!(parse("t", &twice).unwrap_err().field, "openrouter.models[1].id");
    assert_eq!(field_of("price_in_per_mtok: 0.15", "price_in_per_mtok: -1"), "openrouter.models[0].price_in_per_mtok");
    let no_models = VALID.replacen(
        "  models:\n    - { id: openai/gpt-4o-mini, label: Mini, note: n, price_in_per_mtok: 0.15, price_out_per_mtok: 0.6 }",
        "  models: []",
        1,
    );
    assert_eq!(parse("t", &no_models).unwrap_err().field, "openrouter.models");
    let workspace = |id: &str| {
        VALID.replacen("  key_label_prefix: t\n", &format!("  key_label_prefix: t\n  workspace_id: \"{id}\"\n"), 1)
    };
    assert!(parse("t", &workspace("0df9e665-d932-5740-b2c7-b52af166bc11")).is_ok());
    assert_eq!(parse("t", &workspace("default")).unwrap_err().field, "openrouter.workspace_id");
}

#[test]
fn shape_errors_name_the_field() {
    // A typo in a key is an unknown field, not silently ignored.
    let err = parse("t", &VALID.replacen("max_keys", "max_key", 1)).unwrap_err();
    assert_eq!(err.field, "openrouter.guardrail");
    assert!(err.message.contains("unknown field `max_key`"), "{err}");
    let err = parse("t", &VALID.replacen("reset_interval: daily", "reset_interval: hourly", 1)).unwrap_err();
    assert_eq!(err.field, "openrouter.guardrail.reset_interval");
    // A time without an offset is ambiguous and refused.
    let err = parse("t", &VALID.replacen("2026-04-15T14:00:00+02:00", "2026-04-15T14:00:00", 1)).unwrap_err();
    assert_eq!(err.field, "starts_at");
    let err = parse("t", &VALID.replacen("  key_label_prefix: t\n", "", 1)).unwrap_err();
    assert!(err.message.contains("missing field `key_label_prefix`"), "{err}");
}

#[test]
fn window_state_follows_the_clock() {
    let w = parse("t", VALID).unwrap();
    let open = Utc.with_ymd_and_hms(2026, 4, 15, 11, 30, 0).unwrap();
    let close = Utc.with_ymd_and_hms(2026, 4, 15, 13, 30, 0).unwrap();
    let second = chrono::Duration::seconds(1);
    assert_eq!(w.window_state(open - second), WindowState::NotYetOpen { opens_at: open });
    assert_eq!(w.window_state(open), WindowState::Open { closes_at: close });
    assert_eq!(w.window_state(close - second), WindowState::Open { closes_at: close });
    assert_eq!(w.window_state(close), WindowState::Closed);
    let inactive = super::Workshop { is_active: false, ..w };
    assert_eq!(inactive.window_state(open), WindowState::Inactive);
}

#[test]
fn organisers_are_checked_and_matched_case_insensitively() {
    let with = |list: &str| format!("{VALID}organisers: {list}\n");
    let w = parse("t", &with("[ana@example.org, Bo@Example.org]")).unwrap();
    assert!(w.has_organiser("ana@example.org"));
    assert!(w.has_organiser("bo@example.org"), "case-insensitive");
    assert!(!w.has_organiser("eve@example.org"));
    assert!(!parse("t", VALID).unwrap().has_organiser("ana@example.org"), "none by default");

    let err = parse("t", &with("[ana@example.org, not-an-email]")).unwrap_err();
    assert_eq!(err.field, "organisers[1]");
    assert!(err.message.contains("not an email address"), "{err}");
    let err = parse("t", &with("[ana@example.org, ANA@example.org]")).unwrap_err();
    assert_eq!((err.field.as_str(), err.message.contains("listed twice")), ("organisers[1]", true), "{err}");

    // The attendee page serialises the workshop: organisers never reach a browser.
    let json = serde_json::to_string(&w).unwrap();
    assert!(!json.contains("ana@example.org"), "{json}");
}
