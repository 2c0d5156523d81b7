//! CSV exports for admins: every attendance row with its usage, and the opted-in leads.
//!
//! Quoting is the `csv` crate's (commas, quotes, newlines). On top, a cell that a spreadsheet
//! would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a
//! leading `'`, so a display name like `=HYPERLINK(…)` stays text (OWASP "CSV injection").

use chrono::{DateTime, SecondsFormat, Utc};

use crate::store::{Attendance, Attendee, AttendeeProfile, ClaimStatus, MarketingConsent};

/// Makes a cell inert in spreadsheets.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn write_csv<const N: usize>(header: [&str; N], records: impl Iterator<Item = [String; N]>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>, cells: &[&str]| {
        writer.write_record(cells.iter().map(|c| neutralise(c).into_owned())).expect("writing to memory cannot fail");
    };
    write(&mut writer, &header);
    for record in records {
        write(&mut writer, &record.each_ref().map(String::as_str));
    }
    String::from_utf8(writer.into_inner().expect("writing to memory cannot fail")).expect("cells are UTF-8")
}

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}

/// Every row of a workshop: who, when, spend and key state. Never the key itself.
pub fn attendance_csv(rows: &[(Attendee, Attendance)]) -> String {
    let header = [
        "name",
        "email",
        "provider",
        "claimed_at",
        "status",
        "usage_usd",
        "limit_usd",
        "expires_at",
        "bound",
        "disabled",
        "usage_synced_at",
        "key_label",
    ];
    write_csv(
        header,
        rows.iter().map(|(attendee, row)| {
            [
                attendee.profile.display_name.clone(),
                attendee.profile.email.clone(),
                attendee.profile.auth_provider.clone(),
                time(Some(row.reserved_at)),
                match row.status {
                    ClaimStatus::Minted if row.disabled_at.is_some() => "disabled",
                    ClaimStatus::Minted => "minted",
                    ClaimStatus::Reserved => "reserved",
                }
                .to_string(),
                row.total_usage_usd().to_string(),
                row.total_limit_usd().to_string(),
                time(Some(row.expires_at)),
                row.is_bound().to_string(),
                row.disabled_at.is_some().to_string(),
                time(row.usage_synced_at),
                row.key_label.clone(),
            ]
        }),
    )
}

/// The people who agreed to marketing email in this workshop and have not withdrawn, with when
/// they agreed (consent given in another workshop is that workshop's).
pub fn leads_csv(leads: &[(AttendeeProfile, MarketingConsent)]) -> String {
    write_csv(
        ["email", "name", "opted_in_at", "workshop"],
        leads.iter().map(|(profile, consent)| {
            [
                profile.email.clone(),
                profile.display_name.clone(),
                time(Some(consent.given_at)),
                consent.workshop_slug.clone(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn row(name: &str, email: &str, opted_in: bool) -> (Attendee, Attendance) {
        let at: DateTime<Utc> = "2026-04-15T12:00:00Z".parse().unwrap();
        let attendee = Attendee {
            profile: AttendeeProfile {
                user_id: format!("dev|{email}"),
                email: email.into(),
                email_normalized: email.into(),
                display_name: name.into(),
                auth_provider: "github".into(),
            },
            marketing_opted_in: opted_in,
            marketing_opted_in_at: opted_in.then_some(at),
            marketing_opted_in_workshop: opted_in.then(|| "demo".into()),
            first_seen_at: at,
            last_seen_at: at,
        };
        let attendance = Attendance {
            user_id: attendee.profile.user_id.clone(),
            workshop_slug: "demo".into(),
            status: ClaimStatus::Minted,
            reserved_at: at,
            or_key_hash: Some("abc".into()),
            or_key_plaintext: Some("sk-or-v1-secret".into()),
            key_label: "demo-x".into(),
            limit_usd: Decimal::new(150, 2),
            expires_at: at,
            or_guardrail_id: None,
            guardrail_attached_at: None,
            usage_usd: Decimal::new(25, 2),
            usage_synced_at: None,
            attended_at: Some(at),
            disabled_at: None,
            bind_attempts: 0,
            next_bind_at: None,
            retired_usage_usd: Decimal::new(50, 2),
        };
        (attendee, attendance)
    }

    #[test]
    fn formula_prefixes_are_neutralised_and_quoting_is_correct() {
        let rows = [
            row("=HYPERLINK(\"http://evil\",\"x\")", "a@example.org", true),
            row("Smith, \"Jo\"", "+1@example.org", true),
            row("-2+3", "@b@example.org", false),
            row("\tTab", "c@example.org", true),
            row("Line\nbreak", "d@example.org", true),
        ];
        let csv = attendance_csv(&rows);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let names: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_string()).collect();
        assert_eq!(names, ["'=HYPERLINK(\"http://evil\",\"x\")", "Smith, \"Jo\"", "'-2+3", "'\tTab", "Line\nbreak"]);
        assert!(
            csv.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""),
            "quotes doubled inside a quoted cell: {csv}"
        );
        assert!(csv.contains(",'+1@example.org,"), "{csv}");
        assert!(!csv.contains("sk-or-v1-secret"), "keys are never exported");
        // Budget and spend include rotated-away keys: 1.50 + 0.50 and 0.25 + 0.50.
        let first = csv.lines().nth(1).unwrap();
        assert!(first.contains(",minted,0.75,2.00,"), "{first}");

        let leads: Vec<_> = rows
            .iter()
            .filter(|(attendee, _)| attendee.marketing_opted_in)
            .map(|(attendee, row)| {
                let consent = MarketingConsent {
                    workshop_slug: row.workshop_slug.clone(),
                    given_at: attendee.marketing_opted_in_at.unwrap(),
                    withdrawn_at: None,
                };
                (attendee.profile.clone(), consent)
            })
            .collect();
        let leads = leads_csv(&leads);
        let mut reader = csv::Reader::from_reader(leads.as_bytes());
        assert_eq!(reader.headers().unwrap(), vec!["email", "name", "opted_in_at", "workshop"]);
        let emails: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_string()).collect();
        assert_eq!(emails, ["a@example.org", "'+1@example.org", "c@example.org", "d@example.org"], "only opted-in");
        assert!(leads.contains(",2026-04-15T12:00:00Z,demo"), "{leads}");
    }
}
