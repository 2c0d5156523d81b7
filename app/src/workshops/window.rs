//! The claim window as a pure function of the current time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Workshop;

/// Who stopped claims for now: the workshop's organisers, or an admin in every workshop at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pause {
    ThisWorkshop,
    Everywhere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowState {
    /// `is_active: false` in the YAML.
    Inactive,
    NotYetOpen {
        opens_at: DateTime<Utc>,
    },
    Open {
        closes_at: DateTime<Utc>,
    },
    Closed,
}

impl Workshop {
    pub fn window_state(&self, now: DateTime<Utc>) -> WindowState {
        let opens_at = self.claims_open_at.with_timezone(&Utc);
        let closes_at = self.claims_close_at.with_timezone(&Utc);
        if !self.is_active {
            WindowState::Inactive
        } else if now < opens_at {
            WindowState::NotYetOpen { opens_at }
        } else if now < closes_at {
            WindowState::Open { closes_at }
        } else {
            WindowState::Closed
        }
    }

    /// When a key minted for this workshop stops working: `ends_at` + buffer, in UTC.
    pub fn key_expires_at(&self) -> DateTime<Utc> {
        self.ends_at.with_timezone(&Utc) + chrono::Duration::minutes(i64::from(self.openrouter.expires_buffer_minutes))
    }

    /// The one guardrail OpenRouter holds for this workshop.
    pub fn guardrail_name(&self) -> String {
        format!("workshop-{}", self.slug)
    }
}
