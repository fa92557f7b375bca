//! End-to-end tests: the real server on a random port, a real HTTP client, a real PostgreSQL
//! database per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod billing;
mod contract;
mod contract_keys;
mod contract_lists_jobs;
mod contract_team;
mod docs_page;
mod health;
mod helpers;
mod identity;
mod jobs;
mod leads;
mod robustness;
mod sessions;
mod startup;
mod team;
mod workspace;
