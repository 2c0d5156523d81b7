//! Hostile input on the admin side: everyone who is not an admin (signed out, attendees, an
//! organiser of another workshop, look-alike addresses) gets 404 from every admin page, function
//! and export; names and emails that are markup or spreadsheet formulas stay inert everywhere.
//! The machinery is `support::hostile`.

mod support;

use leptos::server_fn::ServerFn;

use app::admin::{
    DisableKey, LoadAdminOverview, LoadAdminWorkshop, MintForSomeone, PauseAllClaims, PauseClaims, PollAdminWorkshop,
    RetryBinding, RotateKey, SyncNow,
};
use support::hostile::*;

#[tokio::test]
async fn hostile_admin_requests_are_refused_with_a_clear_status_and_write_nothing() {
    let mut report = Report::default();
    let (world, people, start) = demo_world().await;
    let mut cases = Vec::new();
    non_admin_cases(&mut cases, &people.eve, &people.organiser);
    markup_cases(&mut cases, &people.script_named, &people.img_emailed, [&people.eve, &people.wendy, &people.root]);
    world.run(cases, &mut report).await;
    finish_demo(&world, &people, &start, &mut report).await;
    report.finish();
}

/// Signed out, an attendee with a key, an organiser of another workshop, and look-alikes of the
/// admin's address: 404 and no data from every admin function, page and export.
fn non_admin_cases(cases: &mut Vec<Case>, eve: &str, organiser: &str) {
    let row = [("slug", "demo"), ("user_id", EVE_ID)];
    let functions: [(&str, &[(&str, &str)]); 11] = [
        (LoadAdminOverview::PATH, &[]),
        (PollAdminWorkshop::PATH, &[("slug", "demo")]),
        (PauseAllClaims::PATH, &[("paused", "true")]),
        (PauseAllClaims::PATH, &[("paused", "false")]),
        (LoadAdminWorkshop::PATH, &[("slug", "demo")]),
        (RetryBinding::PATH, &row),
        (DisableKey::PATH, &row),
        (RotateKey::PATH, &row),
        (PauseClaims::PATH, &[("slug", "demo"), ("paused", "true")]),
        (MintForSomeone::PATH, &[("slug", "demo"), ("email", "mallory@example.org"), ("name", "Mallory")]),
        (SyncNow::PATH, &[("slug", "demo")]),
    ];
    let identities = [("signed out", None), ("attendee", Some(eve)), ("organiser of demo-small", Some(organiser))];
    for (who, cookie) in identities {
        for (path, form) in functions {
            // The organiser may see their own workshop in the overview; the rest is not theirs.
            if cookie == Some(organiser) && path == LoadAdminOverview::PATH {
                continue;
            }
            cases.push(case(
                "non-admin",
                format!("{who}: {path}"),
                call(path, form).cookie(cookie),
                expect(404).says("\"NotFound\""),
            ));
        }
        let mut pages = vec!["/admin/w/demo", "/admin/w/demo/attendance.csv", "/admin/w/demo/leads.csv"];
        if cookie != Some(organiser) {
            pages.extend(["/admin", "/admin/w/demo-small"]);
        }
        for page in pages {
            cases.push(case(
                "non-admin",
                format!("{who}: GET {page}"),
                get(page).cookie(cookie),
                expect(404).says("Not found").never("xss-name@example.org").never("sk-or-v1-"),
            ));
        }
    }
    for look_alike in ["root+admin@example.org", "root@example.org.evil.example"] {
        cases.push(case(
            "non-admin",
            format!("look-alike of the admin's address {look_alike}: admin overview"),
            call(LoadAdminOverview::PATH, &[]).cookie(Some(&valid_session(look_alike, SECRET, Deployment::Demo))),
            expect(404).says("\"NotFound\""),
        ));
    }
}

fn markup_cases(cases: &mut Vec<Case>, script_named: &str, img_emailed: &str, people: [&str; 3]) {
    let [eve, wendy, root] = people;
    let category = "markup and formulas";
    cases.push(case(
        category,
        "workshop page of an attendee named <script>",
        get("/w/demo").cookie(Some(script_named)),
        never_raw_markup(expect(200).says("xss-name@example.org")),
    ));
    cases.push(case(
        category,
        "workshop page of an attendee whose email is an <img onerror>",
        get("/w/demo").cookie(Some(img_emailed)),
        never_raw_markup(expect(200).says("&lt;img/src=x/onerror=alert(3)&gt;@evil.example")),
    ));
    cases.push(case(
        category,
        "admin page listing both",
        get("/admin/w/demo").cookie(Some(root)),
        never_raw_markup(expect(200).says("&lt;script&gt;alert(").says("&lt;img src=x onerror=alert(2)&gt;")),
    ));
    cases.push(case(
        category,
        "admin overview",
        get("/admin").cookie(Some(root)),
        never_raw_markup(expect(200).says("Build with LLMs: demo workshop")),
    ));
    for export in ["attendance", "leads"] {
        let neutralised = expect(200).says("'=HYPERLINK(").says("'+SUM(1,1)").says("'-2+3").says("'@SUM(1)");
        let neutralised = neutralised.says("'=cmd@evil.example").says("'-minus@example.org").check(no_formula_cells);
        cases.push(case(
            category,
            format!("{export}.csv: formulas neutralised"),
            get(format!("/admin/w/demo/{export}.csv")).cookie(Some(root)),
            neutralised,
        ));
    }
    cases.push(case(
        category,
        "workshop page reflecting ?via=<img onerror>",
        get("/w/demo?error=other-sign-in&via=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E").cookie(Some(wendy)),
        never_raw_markup(expect(200).says("another sign-in using the same email").never("&lt;img src=x")),
    ));
    cases.push(case(
        category,
        "workshop page reflecting ?snippet=<script>",
        get("/w/demo?snippet=%3Cscript%3Ealert(1)%3C%2Fscript%3E&key_test=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
            .cookie(Some(eve)),
        never_raw_markup(expect(200).says("Your key")),
    ));
    cases.push(case(
        category,
        "demo sign-in form reflecting a next that breaks out of its attribute",
        get("/auth/dev?next=%2Fw%2Fdemo%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        never_raw_markup(expect(200).says("/w/demo&quot;&gt;&lt;script&gt;")),
    ));
    cases.push(case(
        category,
        "demo sign-in form reflecting an email that breaks out of its attribute",
        post("/auth/dev", &[("email", "\"><script>alert(1)</script>"), ("name", "<img src=x onerror=alert(2)>")]),
        never_raw_markup(expect(400).says("valid email address").says("&quot;&gt;&lt;script&gt;")),
    ));
}
