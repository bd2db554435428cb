//! obs-init: onboard a Docker Compose project onto the observability platform.
//!
//! The pipeline is detect -> plan -> verify -> render -> apply: [`plan::plan`] reads the
//! project and returns a [`plan::Plan`] (every file's before and after, already verified),
//! the binary renders it (diff or summary), and [`apply::apply`] writes it atomically.
//! The library never prints.

pub mod answers;
pub mod apply;
pub mod ci;
pub mod compose;
pub mod conflict;
pub mod contract;
pub mod dagster;
pub mod dapr;
pub mod daprd;
pub mod deps;
pub mod detect;
pub mod dockerfile;
pub mod doctor;
pub mod dotenv;
pub mod error;
pub mod files;
pub mod frameworks;
pub mod git;
pub mod interpreter;
pub mod kubernetes;
pub mod lock;
pub mod lock_record;
pub mod paths;
pub mod plan;
pub mod platform;
pub mod python;
pub mod record;
pub mod references;
pub mod verify;
pub mod yaml;

pub use error::{Error, Refusal};
pub use plan::{Options, Plan, plan};
