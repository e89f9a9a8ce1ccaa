//! Garmin placeholder while building.
#![allow(clippy::unwrap_used)]

mod common;
mod provider_flow;
