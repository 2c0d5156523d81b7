//! Small shared components.

mod copy_button;

pub use copy_button::CopyButton;

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;

use crate::workshops::WindowState;

/// A time in the workshop's own zone (the venue's), e.g. "Wed 15 Apr 2026, 14:00 (UTC+02:00)".
pub fn format_local(at: &DateTime<FixedOffset>) -> String {
    format!("{} (UTC{})", at.format("%a %-d %b %Y, %H:%M"), at.format("%:z"))
}

pub fn format_utc_in(at: &DateTime<Utc>, zone: &FixedOffset) -> String {
    format_local(&at.with_timezone(zone))
}

#[component]
pub fn WindowBadge(window: WindowState) -> impl IntoView {
    let (class, text) = match window {
        WindowState::Open { .. } => ("badge open", "Claims open"),
        WindowState::NotYetOpen { .. } => ("badge soon", "Opens soon"),
        WindowState::Closed => ("badge closed", "Closed"),
        WindowState::Inactive => ("badge closed", "Not active"),
    };
    view! { <span class=class>{text}</span> }
}
