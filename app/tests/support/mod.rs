//! Shared by the integration tests: real databases and a spawned OpenRouter simulator.
#![allow(dead_code)]

pub mod db;
pub mod flow;
pub mod lost_answer;
pub mod openrouter;
