//! `server doctor`, the real binary, against real services and the stand-ins for those we cannot
//! reach: real Postgres (the machine's, and a throwaway cluster for TLS), the OpenRouter simulator,
//! oauth2-mock-server for Google, the fake GitHub. A good configuration passes every check; each
//! check has a broken configuration that it reports, with its fix. Nothing is changed anywhere.

mod support;

use std::collections::BTreeMap;

use sqlx::{Connection, PgConnection};

use openrouter::{OpenRouterClient, Simulator};
use support::fake_github::{self, FakeGithub};
use support::oidc_mock::OidcMock;

const KEY: &str = "sk-or-v1-doctor-management-key";
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../workshops/demo/demo.yaml");
const SMALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../workshops/demo/demo-small.yaml");

/// Everything a good deployment has, running.
struct World {
    vars: BTreeMap<&'static str, String>,
    database: String,
    simulator: Simulator,
    _google: OidcMock,
    _drops: Vec<Box<dyn std::any::Any>>,
}

impl World {
    async fn start() -> World {
        let _serial = support::one_server_at_a_time().await;
        let (database, drop_db) = support::fresh_postgres().await;
        let database = format!("{database}?sslmode=require");
        app::store::connect(&database).await.expect("migrated");
        let spawned = Simulator::new(KEY).spawn().await.unwrap();
        let client = OpenRouterClient::new(spawned.base_url.clone(), KEY);
        let demo = app::workshops::parse("demo", &std::fs::read_to_string(DEMO).unwrap()).unwrap();
        client.ensure_guardrail(&app::guardrail::desired(&demo)).await.unwrap();
        let google = OidcMock::start().await;
        let github = FakeGithub::default();
        let github_base = github.spawn().await;
        // The site itself, answering /healthz at PUBLIC_URL.
        let listener = support::bind_loopback();
        let public_url = format!("http://{}", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let site_db = format!("sqlite://{}/site.db", dir.path().display());
        let site = server::config::Config::from_lookup(|name| match name {
            "MINTER_DEMO" => Some("1".into()),
            "DATABASE_URL" => Some(site_db.clone()),
            _ => None,
        })
        .unwrap();
        support::serve(site, listener).await;
        let vars = BTreeMap::from([
            ("DATABASE_URL", database.clone()),
            ("OPENROUTER_MANAGEMENT_KEY", KEY.to_string()),
            ("OPENROUTER_BASE_URL", spawned.base_url.clone()),
            ("SESSION_SECRET", "doctor-suite-secret-8c1e4f7a2b9d0e35".to_string()),
            ("PUBLIC_URL", public_url),
            ("ADMIN_EMAILS", "root@example.org".to_string()),
            ("GOOGLE_CLIENT_ID", "doctor-google-client".to_string()),
            ("GOOGLE_CLIENT_SECRET", "doctor-google-secret".to_string()),
            ("GOOGLE_ISSUER", google.issuer.clone()),
            ("GITHUB_CLIENT_ID", fake_github::CLIENT_ID.to_string()),
            ("GITHUB_CLIENT_SECRET", fake_github::CLIENT_SECRET.to_string()),
            ("GITHUB_BASE_URL", github_base.clone()),
            ("GITHUB_API_URL", format!("{github_base}/api")),
        ]);
        World {
            vars,
            database,
            simulator: spawned.simulator,
            _google: google,
            _drops: vec![Box::new(drop_db), Box::new(dir), Box::new(github), Box::new(_serial)],
        }
    }

    /// Runs `server doctor FILES…` with the world's settings changed by `changes` (`None` unsets).
    async fn doctor(&self, files: &[&str], changes: &[(&'static str, Option<&str>)]) -> (i32, String) {
        let mut vars = self.vars.clone();
        for (name, value) in changes {
            match value {
                Some(value) => vars.insert(name, value.to_string()),
                None => vars.remove(name),
            };
        }
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("doctor")
            .args(files)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(vars)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.code().unwrap(), stdout)
    }

    /// Every row of every table of the world's database, and the simulator's writes.
    async fn state(&self) -> (Vec<String>, usize) {
        let mut db = PgConnection::connect(&self.database).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        let mut rows = Vec::new();
        for table in tables {
            let count: i64 =
                sqlx::query_scalar(&format!("SELECT count(*) FROM \"{table}\"")).fetch_one(&mut db).await.unwrap();
            rows.push(format!("{table}: {count}"));
        }
        let writes = self.simulator.request_log().iter().filter(|r| !r.starts_with("GET ")).count();
        (rows, writes)
    }
}

/// How many migrations this build carries for Postgres (`migrations/postgres/*.sql`).
fn postgres_migrations() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/postgres");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql"))
        .count()
}

/// The one line of `check` in `output`, which must be a problem mentioning `says`.
fn problem(output: &str, check: &str, says: &str) {
    let line = output
        .lines()
        .find(|l| l.starts_with(&format!("problem  {check}:")) && l.contains(says))
        .unwrap_or_else(|| panic!("no problem line for {check} saying {says:?} in:\n{output}"));
    assert!(line.contains(" — fix: "), "a problem says how to fix it: {line}");
}

#[tokio::test]
async fn a_good_deployment_passes_every_check_and_nothing_changes() {
    let world = World::start().await;
    let before = world.state().await;
    let (code, output) = world.doctor(&[DEMO, SMALL], &[]).await;
    println!("{output}");
    assert_eq!(code, 0, "{output}");
    assert!(output.lines().all(|l| l.starts_with("ok ") || l == "all checks passed"), "{output}");
    for expected in [
        "ok       config: every setting the server needs is there (2 sign-in methods, 1 admin)",
        "ok       workshops: demo, demo-small",
        "answers /healthz",
        "ok       database: PostgreSQL",
        "encrypted but the certificate is not checked (sslmode=require)",
        &format!("ok       migrations: all {} applied", postgres_migrations()),
        "ok       openrouter: the management key is accepted",
        "ok       guardrail workshop-demo: exists and matches the YAML",
        "ok       guardrail workshop-demo-small: not there yet: the server creates it at start-up",
        "register the redirect URI",
        "/auth/callback/google",
        "set its Authorization callback URL to",
        "/auth/callback/github",
    ] {
        assert!(output.contains(expected), "{expected:?} in:\n{output}");
    }
    assert_eq!(world.state().await, before, "the doctor wrote nothing to the database or to OpenRouter");
}

/// A label, the settings changed (`None` removes one), the check that fails and what it says.
type BrokenSetting<'a> = (&'a str, Vec<(&'static str, Option<&'a str>)>, &'a str, &'a str);

#[tokio::test]
async fn each_broken_setting_is_reported_with_its_fix() {
    let world = World::start().await;
    let files = [DEMO];
    let cases: Vec<BrokenSetting> = vec![
        ("no session secret", vec![("SESSION_SECRET", None)], "config", "SESSION_SECRET"),
        ("demo mode", vec![("MINTER_DEMO", Some("1"))], "config", "MINTER_DEMO is on"),
        ("not https", vec![("PUBLIC_URL", Some("http://keys.example.org"))], "PUBLIC_URL", "is not https"),
        ("nobody there", vec![("PUBLIC_URL", Some("http://127.0.0.1:9"))], "PUBLIC_URL", "does not answer"),
        (
            "unreachable database",
            vec![("DATABASE_URL", Some("postgres://postgres@127.0.0.1:9/x"))],
            "database",
            "cannot connect",
        ),
        (
            "a wrong management key",
            vec![("OPENROUTER_MANAGEMENT_KEY", Some("sk-or-v1-wrong"))],
            "openrouter",
            "refused (401)",
        ),
        (
            "Google unreachable",
            vec![("GOOGLE_ISSUER", Some("http://127.0.0.1:9"))],
            "sign-in google",
            "connection failed",
        ),
        ("a wrong GitHub secret", vec![("GITHUB_CLIENT_SECRET", Some("wrong"))], "sign-in github", "refused"),
    ];
    for (label, changes, check, says) in cases {
        let (code, output) = world.doctor(&files, &changes).await;
        assert_eq!(code, 1, "{label}:\n{output}");
        problem(&output, check, says);
    }
    // A guardrail someone changed by hand: reported with what the server will put back.
    let client = OpenRouterClient::new(world.vars["OPENROUTER_BASE_URL"].clone(), KEY);
    let guardrail = client.find_guardrail_by_name("workshop-demo").await.unwrap().unwrap();
    let by_hand =
        openrouter::UpdateGuardrail { allowed_models: Some(Some(vec!["openai/gpt-4o".into()])), ..Default::default() };
    client.update_guardrail(&guardrail.id, &by_hand).await.unwrap();
    let (_, output) = world.doctor(&files, &[]).await;
    assert!(
        output.contains("ok       guardrail workshop-demo: exists but differs from the YAML (models → meta-llama/"),
        "{output}"
    );

    // The build's own workshops: this test binary has none.
    let (code, output) = world.doctor(&[], &[]).await;
    assert_eq!(code, 1);
    problem(&output, "workshops", "this build has no workshop");

    // A database that was never migrated.
    let (fresh, _drop) = support::fresh_postgres().await;
    let (code, output) = world.doctor(&files, &[("DATABASE_URL", Some(&fresh))]).await;
    assert_eq!(code, 1);
    problem(&output, "migrations", &format!("0 of {} applied", postgres_migrations()));

    // TLS that cannot be trusted: another CA than the server's.
    let cluster = testkit::cluster::Cluster::start_with_tls(&["localhost"]);
    let url = cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", cluster.other_ca.display()));
    let (code, output) = world.doctor(&files, &[("DATABASE_URL", Some(&url))]).await;
    assert_eq!(code, 1);
    problem(&output, "database", "the TLS handshake with Postgres at localhost failed (sslmode=verify-full)");
    // And with the right CA it passes, verified.
    let url = cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", cluster.ca.display()));
    app::store::connect(&url).await.unwrap();
    let (_, output) = world.doctor(&files, &[("DATABASE_URL", Some(&url))]).await;
    assert!(output.contains("encrypted, certificate verified (sslmode=verify-full)"), "{output}");
}
