//! Times as the viewer reads them: in their own time zone, and as a live countdown.
//!
//! The server renders the venue's time (with its UTC offset) so the page is complete without
//! JavaScript; after hydration the browser rewrites it in the viewer's zone and locale.

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::format_utc_in;

/// `at`, shown in the viewer's time zone once hydrated, in the venue's zone (`zone`, seconds east
/// of UTC) before that, and without JavaScript. The server formats the fallback, so the browser
/// gets an instant and a text, and no calendar code.
#[component]
pub fn LocalTime(at: DateTime<Utc>, zone: i32) -> impl IntoView {
    let fallback_zone = FixedOffset::east_opt(zone).unwrap_or(FixedOffset::east_opt(0).expect("UTC"));
    let TimeText { at_ms, text } = TimeText::new(at, &fallback_zone);
    view! {
        <time datetime=at.to_rfc3339()>
            <ViewerTime at_ms text/>
        </time>
    }
}

/// An instant as [`ViewerTime`] takes it: milliseconds since the epoch, and the server's text for
/// it in `zone` (the venue's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeText {
    pub at_ms: i64,
    pub text: String,
}

impl TimeText {
    pub fn new(at: DateTime<Utc>, zone: &FixedOffset) -> TimeText {
        TimeText { at_ms: at.timestamp_millis(), text: format_utc_in(&at, zone) }
    }
}

/// [`LocalTime`]'s moving part: `text` until hydrated, then `at_ms` (milliseconds since the
/// epoch) in the viewer's zone and locale.
#[island]
pub fn ViewerTime(at_ms: i64, text: String) -> impl IntoView {
    let text = RwSignal::new(text);
    // Effects only run in the browser, after hydration: the first render matches the server's.
    Effect::new(move |_| {
        if let Some(local) = browser::local_text(at_ms) {
            text.set(local);
        }
    });
    view! { {text} }
}

/// Seconds east of UTC, as islands take a time zone.
pub fn zone_secs(zone: FixedOffset) -> i32 {
    zone.local_minus_utc()
}

/// Time left until `until`, ticking every second in the browser. Measured on the server's clock
/// (`until - server_now`, then the time elapsed in the browser), so a wrong clock on a phone
/// does not open claims early. `reload`: the page reloads when it reaches zero (the server then
/// renders what has changed, e.g. an open claim window).
#[component]
pub fn Countdown(until: DateTime<Utc>, server_now: DateTime<Utc>, reload: bool) -> impl IntoView {
    view! { <CountdownClock remaining_ms=(until - server_now).num_milliseconds() reload/> }
}

/// [`Countdown`]'s moving part, from the milliseconds left when the server rendered it.
#[island]
pub fn CountdownClock(remaining_ms: i64, reload: bool) -> impl IntoView {
    let elapsed_ms = RwSignal::new(0_i64);
    let remaining_ms = move || remaining_ms - elapsed_ms.get();
    let started = browser::now_ms();
    every(std::time::Duration::from_secs(1), move || elapsed_ms.set((browser::now_ms() - started) as i64));
    if reload {
        let fired = StoredValue::new(remaining_ms() <= 0);
        Effect::new(move |_| {
            if remaining_ms() <= 0 && !fired.get_value() {
                fired.set_value(true);
                browser::reload();
            }
        });
    }
    view! { <span class="countdown" role="timer">{move || format_remaining(remaining_ms())}</span> }
}

/// Runs `f` every `period` in the browser while the calling component is mounted; nothing on
/// the server.
pub fn every(period: std::time::Duration, f: impl Fn() + 'static) {
    browser::every(period, f)
}

/// As [`every`], but not while the page is in a hidden tab (a phone in a pocket asks nothing).
pub fn every_visible(period: std::time::Duration, f: impl Fn() + 'static) {
    browser::every(period, move || {
        if browser::visible() {
            f()
        }
    })
}

/// "3 h 12 min", "2 d 5 h", "4 min 09 s", "12 s": two units, the larger first; 0 when past.
pub fn format_remaining(ms: i64) -> String {
    let secs = (ms.max(0) + 999) / 1000;
    let (days, hours, mins, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else if mins > 0 {
        format!("{mins} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsValue;

    pub fn local_text(at_ms: i64) -> Option<String> {
        let options = js_sys::Object::new();
        for (name, value) in [
            ("weekday", "short"),
            ("day", "numeric"),
            ("month", "short"),
            ("year", "numeric"),
            ("hour", "2-digit"),
            ("minute", "2-digit"),
            ("timeZoneName", "short"),
        ] {
            js_sys::Reflect::set(&options, &name.into(), &value.into()).ok()?;
        }
        let locale = window().navigator().language().unwrap_or_else(|| "en".into());
        let date = js_sys::Date::new(&JsValue::from_f64(at_ms as f64));
        Some(date.to_locale_string(&locale, &options).into())
    }

    pub fn now_ms() -> f64 {
        js_sys::Date::now()
    }

    pub fn every(period: std::time::Duration, f: impl Fn() + 'static) {
        if let Ok(handle) = set_interval_with_handle(f, period) {
            on_cleanup(move || handle.clear());
        }
    }

    pub fn visible() -> bool {
        !document().hidden()
    }

    pub fn reload() {
        let _ = window().location().reload();
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn local_text(_: i64) -> Option<String> {
        None
    }

    pub fn now_ms() -> f64 {
        0.0
    }

    pub fn every(_: std::time::Duration, _: impl Fn() + 'static) {}

    pub fn visible() -> bool {
        false
    }

    pub fn reload() {}
}

#[cfg(test)]
mod tests {
    use super::format_remaining;

    #[test]
    fn remaining_time_reads_naturally() {
        let s = 1000;
        assert_eq!(format_remaining((3 * 3600 + 12 * 60 + 5) * s), "3 h 12 min");
        assert_eq!(format_remaining((2 * 86_400 + 5 * 3600 + 59 * 60) * s), "2 d 5 h");
        assert_eq!(format_remaining((4 * 60 + 9) * s), "4 min 09 s");
        assert_eq!(format_remaining(12 * s), "12 s");
        // Rounded up: "0 s" only once the moment has come.
        assert_eq!(format_remaining(1), "1 s");
        assert_eq!(format_remaining(0), "0 s");
        assert_eq!(format_remaining(-5 * s), "0 s");
    }
}
