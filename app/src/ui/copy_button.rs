use leptos::prelude::*;

/// Copies `text` to the clipboard and says so ("Copied ✓") for two seconds. `label` names the
/// button for screen readers when several are on a page. An island: the button is all that
/// reaches the browser.
#[island]
pub fn CopyButton(text: String, label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let promise = clipboard.write_text(&text);
            leptos::task::spawn_local(async move {
                if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
                    copied.set(true);
                    set_timeout(move || copied.set(false), std::time::Duration::from_secs(2));
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <button type="button" class="copy" aria-label=label on:click=copy>
            {move || if copied.get() { "Copied ✓" } else { "Copy" }}
        </button>
        <span class="visually-hidden" role="status">{move || copied.get().then_some("Copied to the clipboard")}</span>
    }
}
