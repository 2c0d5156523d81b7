//! Marks a lazily loaded island as hydrated. `#[island(lazy)]` islands (the ones only some pages
//! carry: the claim form, the admin table, the projector) come in a WASM chunk of their own that
//! the browser fetches after the main bundle, so `body[data-hydrated]` (set once the main bundle
//! has hydrated its islands) does not cover them. Each such island puts `data-lazy-island` on one
//! of its elements, and `data-ready` once it runs in the browser; "interactive" (the end-to-end
//! tests, `bench/tti.mjs`) is then `body[data-hydrated]` and no `[data-lazy-island]:not([data-ready])`.

use leptos::prelude::*;

/// The value of `data-ready` for the island this is called in: absent in the server's HTML,
/// present from the moment the island hydrated (effects run only in the browser).
pub fn lazy_island_ready() -> impl Fn() -> Option<&'static str> + Copy + Send + Sync + 'static {
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    move || ready.get().then_some("")
}
