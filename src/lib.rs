//! obs-init: onboard a Docker Compose project onto the observability platform.
//!
//! The pipeline is detect -> plan -> verify -> render -> apply: [`plan::plan`] reads the
//! project and returns a [`plan::Plan`] (every file's before and after, already verified),
//! the binary renders it (diff or summary), and [`apply::apply`] writes it atomically.
//! The library never prints.

pub mod answers;
pub mod apply;
pub mod compose;
pub mod contract;
pub mod dagster;
pub mod dapr;
pub mod deps;
pub mod detect;
pub mod doc;
pub mod doctor;
pub mod emit;
pub mod error;
pub mod git;
pub mod inherit;
pub mod interpolate;
pub mod model;
pub mod plan;
pub mod platform;
pub mod ports;
pub mod python;
pub mod record;
pub mod remove;
pub mod splice;
pub mod text;
pub mod unplan;
pub mod verify;

pub use error::{ComposeError, Error};
pub use plan::{Options, Plan, plan};
