//! OpenRouter's management API as the minter uses it: a typed client (with retries,
//! exactly-once key creation and a concurrency bound), wire types and errors; and, with the
//! `simulator` feature, an in-memory simulator of the same API (plus a minimal
//! `/chat/completions`) for tests and demos. Knows nothing of workshops.

pub mod client;
pub mod error;
mod lanes;
mod metrics;
pub mod retry;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod types;

pub use client::{
    roots_from_pem, OpenRouterClient, DEFAULT_BASE_URL, DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT, KEYS_PAGE_SIZE,
    MAX_PAGE_SIZE,
};
pub use error::OpenRouterError;
pub use retry::RetryPolicy;
#[cfg(feature = "simulator")]
pub use simulator::{SimulatedKey, Simulator, SpawnedSimulator};
pub use types::{
    guardrail_drift, CreateGuardrail, CreateKey, CreatedKey, Guardrail, GuardrailPage, KeyAssignment,
    KeyAssignmentPage, KeyInfo, ResetInterval, UpdateGuardrail, UpdateKey,
};
