//! End-to-end tests: the real server on a random port, a real HTTP client, a real PostgreSQL
//! database per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod billing;
mod contract;
mod contract_keys;
mod contract_lists_jobs;
mod contract_team;
mod cors_browser;
mod crm;
mod csv_safety;
mod discovery;
mod docs_page;
mod files;
mod health;
mod helpers;
mod identity;
mod intelligence;
mod job_errors;
mod jobs;
mod leads;
mod login_throttle;
mod mail;
mod processes;
mod rate_limits;
mod robustness;
mod security_headers;
mod sessions;
mod slack;
mod startup;
mod sync;
mod team;
mod webhooks;
mod whatsapp;
mod workspace;
