//! The workshop key minter: pages, server functions, and (behind `ssr`) the server-side domain.
#![recursion_limit = "256"]

pub mod admin;
mod app;
pub mod auth;
pub mod claim;
pub mod pages;
pub mod request_id;
pub mod site;
pub mod ui;
pub mod workshops;

#[cfg(feature = "ssr")]
pub mod background;
#[cfg(feature = "ssr")]
pub mod guardrail;
#[cfg(feature = "ssr")]
pub mod hashed_names;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod listener;
#[cfg(feature = "ssr")]
pub mod markdown;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod qr;
#[cfg(feature = "ssr")]
pub mod rate_limit;
#[cfg(feature = "ssr")]
pub mod signed_in;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

pub use app::{shell, App};
