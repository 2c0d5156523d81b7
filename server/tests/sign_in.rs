//! Sign-in end to end over real HTTP: our router on loopback, Google played by a real OIDC server
//! (npm oauth2-mock-server), GitHub by a fake that follows GitHub's documented responses. Every
//! refusal must explain itself, set no session and write no attendee.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

use app::auth::session::SessionKeys;
use app::claim::ClaimKey;
use app::store::Store;
use server::config::Config;
use support::fake_github::{self, Account, FakeGithub};
use support::oidc_mock::{OidcMock, Spoil};

const GOOGLE_CLIENT_ID: &str = "minter-test.apps.googleusercontent.com";
const SITE_SECRET: &str = "sign-in-suite-secret-4b9e1c7d2a6f8e03";

struct Site {
    base: String,
    store: Arc<dyn Store>,
    google: OidcMock,
    github: FakeGithub,
    _dir: tempfile::TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Site {
    async fn start() -> Site {
        let serial = support::one_server_at_a_time().await;
        let google = OidcMock::start().await;
        let github = FakeGithub::default();
        let github_base = github.spawn().await;
        let listener = support::bind_loopback();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let vars: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", format!("sqlite://{}/sign-in.db", dir.path().display())),
            ("OPENROUTER_MANAGEMENT_KEY", "sk-or-v1-test".into()),
            ("OPENROUTER_BASE_URL", "http://127.0.0.1:9/api/v1".into()),
            ("SESSION_SECRET", SITE_SECRET.to_string()),
            ("PUBLIC_URL", base.clone()),
            ("GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID.into()),
            ("GOOGLE_CLIENT_SECRET", "google-secret".into()),
            ("GOOGLE_ISSUER", google.issuer.clone()),
            ("GITHUB_CLIENT_ID", fake_github::CLIENT_ID.into()),
            ("GITHUB_CLIENT_SECRET", fake_github::CLIENT_SECRET.into()),
            ("GITHUB_BASE_URL", github_base.clone()),
            ("GITHUB_API_URL", format!("{github_base}/api")),
        ]);
        let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        let (_, state) = support::serve(config, listener).await;
        Site { base, store: state.store, google, github, _dir: dir, _serial: serial }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A browser without JavaScript: follows nothing by itself, keeps our cookies.
struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
    site: String,
}

impl Browser {
    fn new(site: &Site) -> Self {
        Self {
            http: reqwest::Client::builder().redirect(Policy::none()).build().unwrap(),
            cookies: HashMap::new(),
            site: site.base.clone(),
        }
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let mut request = self.http.get(url);
        if url.starts_with(&self.site) && !self.cookies.is_empty() {
            request = request.header("cookie", self.cookie_header());
        }
        let response = request.send().await.unwrap();
        if url.starts_with(&self.site) {
            for set in response.headers().get_all(SET_COOKIE) {
                let pair = set.to_str().unwrap().split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.into(), value.into());
                }
            }
        }
        response
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn session(&self) -> Option<&String> {
        self.cookies.get("minter_session")
    }

    /// Our login route → the provider's authorize URL.
    async fn start_login(&mut self, site: &Site, provider: &str, next: &str) -> String {
        let next = form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
        let response = self.get(&site.url(&format!("/auth/login/{provider}?next={next}"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
        location(&response)
    }

    /// The provider approves → the callback URL it sends the browser to.
    async fn approve(&mut self, authorize_url: &str) -> String {
        let response = self.get(authorize_url).await;
        assert_eq!(response.status().as_u16() / 100, 3, "{authorize_url}: {}", response.status());
        location(&response)
    }

    /// The whole round trip; returns the callback's response.
    async fn sign_in(&mut self, site: &Site, provider: &str, next: &str) -> (reqwest::Response, String) {
        let authorize = self.start_login(site, provider, next).await;
        let callback = self.approve(&authorize).await;
        (self.get(&callback).await, callback)
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_string()
}

fn query(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// Asserts a refused sign-in: status, the reason on the page, no session.
/// The refusal page, after checking its status, reason and that no session started.
async fn assert_refused(browser: &Browser, response: reqwest::Response, status: u16, reason: &str) -> String {
    assert_eq!(response.status().as_u16(), status);
    let page = response.text().await.unwrap();
    assert!(page.contains("Sign-in failed") && page.contains(reason), "expected {reason:?} in {page}");
    assert!(browser.session().is_none(), "a refused sign-in must not start a session");
    page
}

fn github_account(id: u64, emails: Vec<(&str, bool, bool)>) -> Account {
    Account {
        id,
        login: format!("octo{id}"),
        name: None,
        emails: emails.into_iter().map(|(e, p, v)| (e.to_string(), p, v)).collect(),
    }
}

#[tokio::test]
async fn google_sign_in_verifies_the_id_token_and_remembers_the_attendee() {
    let site = Site::start().await;
    site.google.next_user("g-100", "Ada.Lovelace+workshop@Gmail.com", true, None).await;
    let mut browser = Browser::new(&site);

    let authorize = browser.start_login(&site, "google", "/w/demo").await;
    assert!(authorize.starts_with(&format!("{}/authorize?", site.google.issuer)), "{authorize}");
    let params = query(&authorize);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], GOOGLE_CLIENT_ID);
    assert_eq!(params["redirect_uri"], site.url("/auth/callback/google"), "exactly PUBLIC_URL + path");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["scope"], "openid email profile");
    assert!(params["state"].len() >= 16 && params["nonce"].len() >= 32);
    let login_cookie = browser.cookies.get("minter_login").cloned().expect("login cookie");

    let callback = browser.approve(&authorize).await;
    let response = browser.get(&callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/w/demo");
    let set_cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    let session = set_cookies.iter().find(|c| c.starts_with("minter_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"));
    assert!(!session.contains("Secure"), "http PUBLIC_URL: not Secure");
    assert!(set_cookies.iter().any(|c| c.starts_with("minter_login=;")), "login cookie cleared: {set_cookies:?}");
    assert!(!browser.cookies.contains_key("minter_login"));

    let attendee = site.store.attendee("google|g-100").await.unwrap().expect("attendee upserted");
    assert_eq!(attendee.profile.email, "Ada.Lovelace+workshop@Gmail.com");
    assert_eq!(attendee.profile.email_normalized, "adalovelace@gmail.com");
    assert_eq!(attendee.profile.auth_provider, "google");
    assert_eq!(attendee.profile.display_name, "Ada Lovelace");

    let page = browser.get(&site.url("/w/demo")).await.text().await.unwrap();
    assert!(page.contains("Ada.Lovelace+workshop@Gmail.com"), "signed in on the page");

    // Replaying the same callback with a copy of the login cookie: refused before the provider.
    browser.cookies.insert("minter_login".into(), login_cookie);
    browser.cookies.remove("minter_session");
    let replay = browser.get(&callback).await;
    assert_refused(&browser, replay, 400, "already used").await;
}

#[tokio::test]
async fn every_spoiled_id_token_is_refused_and_nothing_is_written() {
    let site = Site::start().await;
    let cases = [
        (Spoil::Audience, "issued for another application"),
        (Spoil::Issuer, "issued by another provider"),
        (Spoil::Nonce, "nonce does not belong to this sign-in"),
        (Spoil::Expired, "has expired"),
        (Spoil::ForeignKey, "signature does not match"),
    ];
    for (i, (spoil, reason)) in cases.into_iter().enumerate() {
        let sub = format!("spoiled-{i}");
        site.google.next_user(&sub, "eve@example.com", true, Some(spoil)).await;
        let mut browser = Browser::new(&site);
        let (response, _) = browser.sign_in(&site, "google", "/w/demo").await;
        assert_refused(&browser, response, 403, reason).await;
        assert!(site.store.attendee(&format!("google|{sub}")).await.unwrap().is_none(), "{spoil:?} wrote a row");
    }
}

#[tokio::test]
async fn unverified_google_email_is_refused() {
    let site = Site::start().await;
    site.google.next_user("g-unverified", "mallory@example.com", false, None).await;
    let mut browser = Browser::new(&site);
    let (response, _) = browser.sign_in(&site, "google", "/").await;
    assert_refused(&browser, response, 403, "not verified with Google").await;
    assert!(site.store.attendee("google|g-unverified").await.unwrap().is_none());
}

#[tokio::test]
async fn state_must_match_the_login_cookie() {
    let site = Site::start().await;
    site.google.next_user("g-state", "ada@example.com", true, None).await;

    // Tampered state.
    let mut browser = Browser::new(&site);
    let authorize = browser.start_login(&site, "google", "/").await;
    let callback = browser.approve(&authorize).await;
    let state = query(&callback)["state"].clone();
    let response = browser.get(&callback.replace(&state, "forged-state")).await;
    assert_refused(&browser, response, 400, "did not start here").await;

    // Missing state.
    let mut browser = Browser::new(&site);
    let authorize = browser.start_login(&site, "google", "/").await;
    let callback = browser.approve(&authorize).await;
    let without_state = callback.replace(&format!("&state={}", query(&callback)["state"]), "");
    assert!(!without_state.contains("state="));
    let response = browser.get(&without_state).await;
    assert_refused(&browser, response, 400, "did not start here").await;

    // A callback reached without the login cookie (another browser, or a forged link).
    let mut browser = Browser::new(&site);
    let authorize = browser.start_login(&site, "google", "/").await;
    let callback = browser.approve(&authorize).await;
    browser.cookies.clear();
    let response = browser.get(&callback).await;
    assert_refused(&browser, response, 400, "did not start here").await;

    // A login cookie for another provider.
    let mut browser = Browser::new(&site);
    browser.start_login(&site, "github", "/").await;
    let github_cookie = browser.cookies["minter_login"].clone();
    let mut other = Browser::new(&site);
    let authorize = other.start_login(&site, "google", "/").await;
    let callback = other.approve(&authorize).await;
    other.cookies.insert("minter_login".into(), github_cookie);
    let response = other.get(&callback).await;
    assert_refused(&other, response, 400, "did not start here").await;

    assert!(site.store.attendee("google|g-state").await.unwrap().is_none());
}

#[tokio::test]
async fn a_used_code_cannot_be_replayed_into_a_new_attempt() {
    let site = Site::start().await;
    site.google.next_user("g-replay", "ada@example.com", true, None).await;
    let mut victim = Browser::new(&site);
    let (response, old_callback) = victim.sign_in(&site, "google", "/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The attacker starts their own attempt and feeds it the victim's used code.
    let mut attacker = Browser::new(&site);
    let authorize = attacker.start_login(&site, "google", "/").await;
    let fresh_state = query(&authorize)["state"].clone();
    let code = query(&old_callback)["code"].clone();
    let forged = site.url(&format!("/auth/callback/google?code={code}&state={fresh_state}"));
    let response = attacker.get(&forged).await;
    assert_refused(&attacker, response, 400, "did not accept the sign-in code").await;
}

#[tokio::test]
async fn provider_errors_are_shown_not_hidden() {
    let site = Site::start().await;
    let mut browser = Browser::new(&site);
    let authorize = browser.start_login(&site, "google", "/").await;
    let state = query(&authorize)["state"].clone();
    // The provider's free text arrives through the browser (anyone can write it into a link):
    // its error code is explained in our words, the text is not repeated.
    let url = site.url(&format!(
        "/auth/callback/google?error=access_denied&error_description=Call+555-0100+to+unlock&state={state}"
    ));
    let response = browser.get(&url).await;
    let page = assert_refused(&browser, response, 403, "refused by Google: access was not granted.").await;
    assert!(!page.contains("555-0100"), "{page}");

    let response = browser.get(&site.url("/auth/login/myspace?next=/")).await;
    assert_refused(&browser, response, 404, "There is no such sign-in method here.").await;
}

#[tokio::test]
async fn next_is_reduced_to_a_path_on_this_site() {
    let site = Site::start().await;
    for (i, hostile) in ["https://evil.example", "//evil.example", "/\\evil.example"].into_iter().enumerate() {
        site.google.next_user(&format!("g-next-{i}"), "ada@example.com", true, None).await;
        let mut browser = Browser::new(&site);
        let (response, _) = browser.sign_in(&site, "google", hostile).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/", "{hostile}");
        assert!(browser.session().is_some());
    }
}

#[tokio::test]
async fn github_sign_in_uses_the_numeric_id_and_the_primary_verified_email() {
    let site = Site::start().await;
    site.github.sign_in_as(github_account(
        583231,
        vec![("old@example.com", false, true), ("Octo.Cat@Example.com", true, true), ("new@example.com", false, false)],
    ));
    let mut browser = Browser::new(&site);
    let authorize = browser.start_login(&site, "github", "/w/demo").await;
    let params = query(&authorize);
    assert_eq!(params["redirect_uri"], site.url("/auth/callback/github"));
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["scope"], "read:user user:email");
    let callback = browser.approve(&authorize).await;
    let response = browser.get(&callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), "/w/demo");
    assert!(browser.session().is_some());

    let attendee = site.store.attendee("github|583231").await.unwrap().expect("attendee");
    assert_eq!(attendee.profile.email, "Octo.Cat@Example.com");
    assert_eq!(attendee.profile.email_normalized, "octo.cat@example.com");
    assert_eq!(attendee.profile.display_name, "octo583231", "no name on GitHub: the login");
    assert_eq!(attendee.profile.auth_provider, "github");

    // GitHub codes are single-use: a second attempt with the same code is refused by GitHub.
    let mut attacker = Browser::new(&site);
    let authorize = attacker.start_login(&site, "github", "/").await;
    let forged = site.url(&format!(
        "/auth/callback/github?code={}&state={}",
        query(&callback)["code"],
        query(&authorize)["state"]
    ));
    let response = attacker.get(&forged).await;
    assert_refused(&attacker, response, 400, "GitHub did not accept the sign-in code").await;
}

#[tokio::test]
async fn github_account_without_a_verified_primary_email_is_refused() {
    let site = Site::start().await;
    site.github.sign_in_as(github_account(
        77,
        vec![("unverified@example.com", true, false), ("other@example.com", false, true)],
    ));
    let mut browser = Browser::new(&site);
    let (response, _) = browser.sign_in(&site, "github", "/").await;
    assert_refused(&browser, response, 403, "no verified primary email").await;
    assert!(site.store.attendee("github|77").await.unwrap().is_none());
}

#[tokio::test]
async fn the_page_offers_exactly_the_configured_providers() {
    let site = Site::start().await;
    let mut browser = Browser::new(&site);
    let page = browser.get(&site.url("/w/demo")).await.text().await.unwrap();
    assert!(page.contains("/auth/login/google?next=%2Fw%2Fdemo") && page.contains("Sign in with Google"));
    assert!(page.contains("/auth/login/github?next=%2Fw%2Fdemo") && page.contains("Sign in with GitHub"));
    assert!(!page.contains("/auth/dev"), "no demo sign-in outside demo mode");
}

#[tokio::test]
async fn server_functions_need_a_valid_session_and_refuse_cross_site_posts() {
    let site = Site::start().await;
    site.google.next_user("g-session", "ada@example.com", true, None).await;
    let mut browser = Browser::new(&site);
    browser.sign_in(&site, "google", "/").await;
    let session = browser.session().cloned().unwrap();
    let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let claim = |cookie: Option<String>| {
        let mut request =
            // An unknown workshop: authentication is checked first, and nothing reaches OpenRouter.
            http.post(site.url(ClaimKey::PATH)).header(ACCEPT, "application/json").form(&[("slug", "no-such")]);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("minter_session={cookie}"));
        }
        request
    };

    // No session, a tampered one, one signed with another secret: 401 Unauthorized.
    let (head, signature) = session.rsplit_once('.').unwrap();
    let tampered = format!("{head}x.{signature}");
    let user = app::auth::SessionUser {
        user_id: "google|g-session".into(),
        email: "ada@example.com".into(),
        name: "Ada".into(),
        provider: "google".into(),
    };
    let foreign = SessionKeys::new(&[9; 32], &site.base, false).issue(&user, Utc::now());
    let site_keys = SessionKeys::new(SITE_SECRET.as_bytes(), &site.base, false);
    let expired = site_keys.issue(&user, Utc::now() - Duration::hours(13));
    // The site's own secret, but issued for another deployment (a staging server sharing it).
    let staging =
        SessionKeys::new(SITE_SECRET.as_bytes(), "https://staging.example.org", false).issue(&user, Utc::now());
    // The site's own secret and address, but a demo sign-in: this server is not in demo mode.
    let demo_user =
        app::auth::SessionUser { user_id: "dev|ada@example.com".into(), provider: "dev".into(), ..user.clone() };
    let demo = SessionKeys::new(SITE_SECRET.as_bytes(), &site.base, true).issue(&demo_user, Utc::now());
    assert!(site_keys.verify(&site_keys.issue(&user, Utc::now())).is_some(), "the calibration: accepted");
    for cookie in [None, Some(tampered), Some(foreign), Some(expired), Some(staging), Some(demo)] {
        let label = format!("{cookie:?}");
        let response = claim(cookie).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{label}");
        assert!(response.text().await.unwrap().contains("NotSignedIn"), "{label}");
    }

    // The real session gets past authentication, to the next check.
    let response = claim(Some(session.clone())).send().await.unwrap();
    assert_ne!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("UnknownWorkshop"));

    // A cross-site POST is refused before it runs, whatever cookie it carries.
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let response = claim(Some(session.clone())).header(header, value).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{header}: {value}");
        let response = http
            .post(site.url("/auth/logout"))
            .header("cookie", format!("minter_session={session}"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    // Same-origin passes.
    let response = claim(Some(session.clone())).header("origin", site.base.as_str()).send().await.unwrap();
    assert_ne!(response.status(), StatusCode::FORBIDDEN);
    let response = claim(Some(session)).header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_ne!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logout_clears_the_session() {
    let site = Site::start().await;
    site.google.next_user("g-logout", "ada@example.com", true, None).await;
    let mut browser = Browser::new(&site);
    browser.sign_in(&site, "google", "/").await;
    let response = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .post(site.url("/auth/logout"))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("minter_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn an_unreachable_provider_is_a_502_page_not_a_hang() {
    let site = Site::start().await;
    let issuer = site.google.issuer.clone();
    drop(site.google);
    // The mock is killed on drop; wait until its port refuses connections.
    for _ in 0..50 {
        if reqwest::get(format!("{issuer}/.well-known/openid-configuration")).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let response = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/auth/login/google?next=/w/demo", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    assert!(page.contains("Google could not be reached"), "{page}");
    assert!(page.contains("Try again with Google"), "{page}");
}
