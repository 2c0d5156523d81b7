//! Malformed server function calls: missing and extra arguments, bytes that are not UTF-8, wrong
//! encodings and content types. The machinery is `support::hostile`.

mod support;

use leptos::server_fn::ServerFn;

use app::admin::MintForSomeone;
use app::claim::{ClaimKey, LoadWorkshopPage};
use support::hostile::*;
use support::raw_http::{Body, RawRequest};

#[tokio::test]
async fn malformed_server_function_calls_are_refused_and_write_nothing() {
    let mut report = Report::default();
    let (world, people, start) = demo_world().await;
    let mut cases = Vec::new();
    malformed_cases(&mut cases, &people.eve, &people.root);
    world.run(cases, &mut report).await;
    finish_demo(&world, &people, &start, &mut report).await;
    report.finish();
}

/// Bodies that are not UTF-8, fields far larger than any real one, arguments that are missing.
fn malformed_cases(cases: &mut Vec<Case>, eve: &str, root: &str) {
    let bad_request = || expect(400);
    cases.push(case(
        "malformed form",
        "claim: slug percent-encodes bytes that are not UTF-8 (decoded as U+FFFD: no such workshop)",
        post_bytes(ClaimKey::PATH, b"slug=%FF%FE".to_vec()).cookie(Some(eve)).header("accept", "application/json"),
        expect(404).says("\"UnknownWorkshop\""),
    ));
    cases.push(case(
        "malformed form",
        "claim: raw bytes that are not UTF-8",
        post_bytes(ClaimKey::PATH, b"slug=\xff\xfe".to_vec()).cookie(Some(eve)).header("accept", "application/json"),
        bad_request().says("The request body is not UTF-8 text."),
    ));
    cases.push(case(
        "malformed form",
        "claim: no slug at all",
        call(ClaimKey::PATH, &[("marketing_consent", "on")]).cookie(Some(eve)),
        bad_request().says("missing field `slug`"),
    ));
    cases.push(case(
        "malformed form",
        "claim: a JSON body instead of a form",
        RawRequest::new("POST", ClaimKey::PATH)
            .body(Body::Bytes { content_type: "application/json", bytes: br#"{"slug":"demo"}"#.to_vec() })
            .cookie(Some(eve))
            .header("accept", "application/json"),
        bad_request().says("missing field `slug`"),
    ));
    cases.push(case(
        "malformed form",
        "workshop page data: no slug at all",
        call(LoadWorkshopPage::PATH, &[]),
        bad_request().says("missing field `slug`"),
    ));
    cases.push(case(
        "malformed form",
        "demo sign-in: email bytes that are not UTF-8",
        post_bytes("/auth/dev", b"email=\xff@example.org&name=A&next=/".to_vec()),
        bad_request().says("Please enter a valid email address."),
    ));
    cases.push(case(
        "malformed form",
        "demo sign-in: name bytes that are not UTF-8",
        post_bytes("/auth/dev", b"email=bytes%40example.org&name=%FF%FEAda&next=/".to_vec()),
        bad_request().says("Please enter your name"),
    ));
    cases.push(case(
        "malformed form",
        "demo sign-in: a name with control characters",
        post("/auth/dev", &[("email", "ctl@example.org"), ("name", "Ada\u{1b}[2J\u{0}")]),
        bad_request().says("Please enter your name"),
    ));
    cases.push(case(
        "malformed form",
        "demo sign-in form: next percent-encodes bytes that are not UTF-8 (stays a path here)",
        get("/auth/dev?next=%2F%2F%FF%FE"),
        expect(200).says(r#"name="next" value="/""#),
    ));
    let long = "n".repeat(60_000);
    cases.push(case(
        "huge field",
        "demo sign-in: a 60 000-character name",
        post("/auth/dev", &[("email", "long@example.org"), ("name", long.as_str())]),
        bad_request().says("at most 100 characters"),
    ));
    let long_email = format!("{}@example.org", "e".repeat(60_000));
    cases.push(case(
        "huge field",
        "demo sign-in: a 60 000-character email",
        post("/auth/dev", &[("email", long_email.as_str()), ("name", "Long")]),
        bad_request().says("valid email address"),
    ));
    cases.push(case(
        "huge field",
        "claim: a 60 000-character slug",
        call(ClaimKey::PATH, &[("slug", long.as_str())]).cookie(Some(eve)),
        expect(404).says("\"UnknownWorkshop\""),
    ));
    cases.push(case(
        "huge field",
        "admin mints for someone with a 60 000-character name",
        call(MintForSomeone::PATH, &[("slug", "demo"), ("email", "long@example.org"), ("name", long.as_str())])
            .cookie(Some(root)),
        expect(422).says("Enter the attendee's name"),
    ));
    cases.push(case(
        "huge field",
        "admin mints for someone with a 60 000-character email",
        call(MintForSomeone::PATH, &[("slug", "demo"), ("email", long_email.as_str()), ("name", "Long")])
            .cookie(Some(root)),
        expect(422).says("Enter the attendee's email address"),
    ));
    cases.push(case(
        "huge field",
        "demo key fault: a 60 000-character fault",
        post("/demo/key-fault", &[("slug", "demo"), ("fault", long.as_str())]).cookie(Some(eve)),
        bad_request().says("fault"),
    ));
    cases.push(case(
        "huge field",
        "admin mints for someone whose name is control characters",
        call(MintForSomeone::PATH, &[("slug", "demo"), ("email", "ctl@example.org"), ("name", "A\u{0}\u{7}\u{1b}[2J")])
            .cookie(Some(root)),
        expect(422).says("Enter the attendee's name"),
    ));
}
