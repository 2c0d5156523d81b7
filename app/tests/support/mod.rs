//! Shared by the integration tests: real databases, and the app on a spawned OpenRouter simulator.
#![allow(dead_code)]

pub mod db;
pub mod flow;
pub mod lost_answer;
pub mod round_trips;
