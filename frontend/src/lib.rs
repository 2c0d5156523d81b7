//! The WASM entry point: hydrates the islands of the server-rendered page (the components marked
//! `#[island]` in `app`); everything else stays the server's HTML.

// The islands' hydration functions live in `app`, exported by wasm-bindgen; linking it is enough.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Marks the main bundle's islands as hydrated (end-to-end tests wait for it before clicking).
    // They hydrate right after this returns, within the same task; the timeout runs after them.
    // The lazy islands arrive later in chunks of their own and mark themselves (`app::ui::lazy`).
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "");
            }
        },
        std::time::Duration::ZERO,
    );
}
