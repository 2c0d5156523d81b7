//! Files browsers and crawlers ask for at fixed addresses, from the binary itself: the icons
//! (Chromium asks for `/favicon.ico` whatever the page links) and `robots.txt` (a workshop page is
//! for the people in the room, not for search engines).

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use app::state::AppState;

const FAVICON_ICO: &[u8] = include_bytes!("../../public/favicon.ico");
const FAVICON_SVG: &[u8] = include_bytes!("../../public/favicon.svg");
const ROBOTS_TXT: &str = include_str!("../../public/robots.txt");
/// A day: they change with a deploy at most.
const CACHE: &str = "public, max-age=86400";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/favicon.ico",
            get(|| async { ([(CONTENT_TYPE, "image/x-icon"), (CACHE_CONTROL, CACHE)], FAVICON_ICO) }),
        )
        .route(
            "/favicon.svg",
            get(|| async { ([(CONTENT_TYPE, "image/svg+xml"), (CACHE_CONTROL, CACHE)], FAVICON_SVG) }),
        )
        .route(
            "/robots.txt",
            get(|| async {
                ([(CONTENT_TYPE, "text/plain; charset=utf-8"), (CACHE_CONTROL, CACHE)], ROBOTS_TXT).into_response()
            }),
        )
}
