//! OpenRouter management API: typed client (with retries, exactly-once key creation and a
//! concurrency bound), wire types, errors, and an in-memory simulator of the same API (plus a
//! minimal `/chat/completions`) for tests and demos.

pub mod client;
pub mod error;
pub mod retry;
pub mod simulator;
pub mod types;

pub use client::{
    OpenRouterClient, DEFAULT_BASE_URL, DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT, KEYS_PAGE_SIZE, MAX_PAGE_SIZE,
};
pub use error::OpenRouterError;
pub use retry::RetryPolicy;
pub use simulator::{SimulatedKey, Simulator, SpawnedSimulator};
pub use types::{
    guardrail_drift, CreateGuardrail, CreateKey, CreatedKey, Guardrail, GuardrailPage, KeyAssignment,
    KeyAssignmentPage, KeyInfo, ResetInterval, UpdateGuardrail, UpdateKey,
};
