//! infrasage-readiness: InfraSage's production-readiness checklist as a Prometheus exporter and
//! a go-live gate. Data flows one way: sources → snapshot → checks → results → outputs.

pub mod catalogue;
pub mod checks;
pub mod config;
pub mod fixtures;
pub mod outcome;
pub mod snapshot;
pub mod sources;
