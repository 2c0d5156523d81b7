//! OpenRouter management API: typed client, wire types, errors, and an in-memory simulator of
//! the same API for tests and demos.

pub mod client;
pub mod error;
pub mod simulator;
pub mod types;

pub use client::{OpenRouterClient, DEFAULT_BASE_URL, DEFAULT_TIMEOUT, MAX_PAGE_SIZE};
pub use error::OpenRouterError;
pub use simulator::{SimulatedKey, Simulator, SpawnedSimulator};
pub use types::{
    CreateGuardrail, CreateKey, CreatedKey, Guardrail, GuardrailPage, KeyAssignment, KeyAssignmentPage, KeyInfo,
    ResetInterval, UpdateGuardrail, UpdateKey,
};
