//! The claim window as a page states it: a badge and a sentence.

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;

use super::{zone_secs, Countdown, LocalTime};
use crate::workshops::{Pause, WindowState};

#[component]
pub fn WindowBadge(
    window: WindowState,
    #[prop(optional)] sold_out: bool,
    #[prop(optional)] paused: bool,
) -> impl IntoView {
    let (class, text) = match window {
        WindowState::Open { .. } if paused => ("badge soon", "Paused"),
        WindowState::Open { .. } if sold_out => ("badge closed", "Sold out"),
        WindowState::Open { .. } => ("badge open", "Claims open"),
        WindowState::NotYetOpen { .. } => ("badge soon", "Opens soon"),
        WindowState::Closed => ("badge closed", "Closed"),
        WindowState::Inactive => ("badge closed", "Not active"),
    };
    view! { <span class=class>{text}</span> }
}

/// Badge and sentence: "Opens in 3 h 12 min (…)" (a countdown; the page reloads when it reaches
/// zero), "Open — 123 of 300 keys left", sold out, closed. The workshop page and the projector
/// say the same thing. `paused`: claims are stopped for now, here or in every workshop.
#[component]
pub fn WindowStatus(
    window: WindowState,
    paused: Option<Pause>,
    keys_left: u32,
    pool_size: u32,
    server_now: DateTime<Utc>,
    zone: FixedOffset,
) -> impl IntoView {
    let text = match window {
        WindowState::Open { .. } if paused == Some(Pause::Everywhere) => {
            "The organisers have paused claims in every workshop. Try again in a moment.".into_any()
        }
        WindowState::Open { .. } if paused.is_some() => {
            "Claims are paused by the organisers. Try again in a moment.".into_any()
        }
        WindowState::Open { .. } if keys_left == 0 => "Sold out: every key has been handed out.".into_any(),
        WindowState::Open { .. } => format!("Open — {keys_left} of {pool_size} keys left").into_any(),
        WindowState::NotYetOpen { opens_at } => view! {
            "Opens in " <Countdown until=opens_at server_now reload=true/>
            " (" <LocalTime at=opens_at zone=zone_secs(zone)/> ")"
        }
        .into_any(),
        WindowState::Closed => "Claims are closed.".into_any(),
        WindowState::Inactive => "This workshop is not active.".into_any(),
    };
    // One flex item for the sentence, so the countdown's pieces are not spaced apart.
    view! {
        <WindowBadge window sold_out=keys_left == 0 paused=paused.is_some()/>
        <span>{text}</span>
    }
}
