//! infrasage-readiness: InfraSage's production-readiness checklist as a Prometheus exporter and
//! a go-live gate. Data flows one way: sources → snapshot → checks → results → outputs.

pub mod catalogue;
pub mod checks;
pub mod cli;
pub mod config;
pub mod cron;
pub mod engine;
pub mod exposition;
pub mod expr;
#[cfg(test)]
pub mod fixtures;
pub mod gathering;
pub mod memory;
pub mod metrics;
pub mod outcome;
pub mod plan;
pub mod redact;
pub mod report;
pub mod results;
pub mod run;
pub mod server;
pub mod snapshot;
pub mod sources;
pub mod web_config;
pub mod yaml;
