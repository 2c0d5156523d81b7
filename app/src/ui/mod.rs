//! Small shared components and formatting.

mod copy_button;
mod lazy;
mod time;
mod window;

pub use copy_button::CopyButton;
pub use lazy::lazy_island_ready;
pub use time::{every, every_visible, format_remaining, zone_secs, Countdown, LocalTime, TimeText, ViewerTime};
pub use window::{WindowBadge, WindowStatus};

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;

/// A time in the workshop's own zone (the venue's), e.g. "Wed 15 Apr 2026, 14:00 (UTC+02:00)":
/// what the page shows until the browser rewrites it in the viewer's zone.
fn format_local(at: &DateTime<FixedOffset>) -> String {
    format!("{} (UTC{})", at.format("%a %-d %b %Y, %H:%M"), at.format("%:z"))
}

pub fn format_utc_in(at: &DateTime<Utc>, zone: &FixedOffset) -> String {
    format_local(&at.with_timezone(zone))
}

/// "$2.00", "$0.0042" (at least cents, more digits only when they matter).
pub fn format_usd(amount: Decimal) -> String {
    let amount = amount.normalize();
    if amount.scale() <= 2 {
        format!("${amount:.2}")
    } else {
        format!("${amount}")
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::format_usd;

    #[test]
    fn dollars_show_cents_and_no_false_precision() {
        assert_eq!(format_usd(Decimal::new(2, 0)), "$2.00");
        assert_eq!(format_usd(Decimal::new(2500, 3)), "$2.50");
        assert_eq!(format_usd(Decimal::new(42, 4)), "$0.0042");
        assert_eq!(format_usd(Decimal::ZERO), "$0.00");
    }
}
