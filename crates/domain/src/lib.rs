//! Leadzone's pure domain: the entities of the data model, value objects that are valid once built,
//! the lead status machine, the role/permission matrix and the lead visibility rule.
//!
//! This crate must never do IO: no async, no database, no HTTP, no clock, no randomness. Everything
//! here is testable with `cargo test -p leadzone-domain` alone.

pub mod access;
pub mod billing;
pub mod entities;
pub mod enums;
pub mod error;
pub mod flags;
pub mod ids;
pub mod imports;
pub mod jobs;
pub mod leads;
pub mod normalize;
pub mod scoring;
pub mod values;
pub mod webhooks;
pub mod whatsapp;

pub use error::{DomainError, FieldError};
