//! The typed, read-only picture of the world that sources fill and checks read.
//! Plain data, no clients: checks import these types, never a source module.

pub mod kube_query;
pub mod kubernetes;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::catalogue::SourceId;
use crate::outcome::Undecided;

pub use kube_query::{Component, EnvValue, Workload};
pub use kubernetes::{KubeScope, KubeSnapshot, SecretObject};

/// What became of one source in one evaluation.
#[derive(Debug, Clone, Default)]
pub enum SourceState<T> {
    /// The config does not name the source.
    #[default]
    NotConfigured,
    /// Configured, but this build or this run has no loader for it.
    Unavailable(String),
    /// The source was asked and failed; the reason names what broke.
    Failed(String),
    Ready(T),
}

impl<T> SourceState<T> {
    /// The data, or why the items that need it cannot be decided.
    pub fn get(&self, source: SourceId) -> Result<&T, Undecided> {
        match self {
            SourceState::Ready(t) => Ok(t),
            SourceState::NotConfigured => Err(Undecided::skipped(format!("{} is not configured", source.as_str()))),
            SourceState::Unavailable(why) => Err(Undecided::skipped(format!("{}: {why}", source.as_str()))),
            SourceState::Failed(why) => Err(Undecided::error(format!("{} failed: {why}", source.as_str()))),
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, SourceState::Ready(_))
    }

    pub fn ready(&self) -> Option<&T> {
        match self {
            SourceState::Ready(t) => Some(t),
            _ => None,
        }
    }
}

/// One data set from one source; a new source adds a variant and a field of [`Snapshot`].
#[derive(Debug, Clone)]
pub enum SourceData {
    Kubernetes(Box<KubeSnapshot>),
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub kubernetes: SourceState<KubeSnapshot>,
    /// State of sources this build does not gather yet, so their items can say why.
    pub others: BTreeMap<SourceId, SourceState<()>>,
}

impl Snapshot {
    pub fn kube(&self) -> Result<&KubeSnapshot, Undecided> {
        self.kubernetes.get(SourceId::Kubernetes)
    }

    /// Records a source's data.
    pub fn insert(&mut self, data: SourceData) {
        match data {
            SourceData::Kubernetes(k) => self.kubernetes = SourceState::Ready(*k),
        }
    }

    /// Records a source that could not be gathered.
    pub fn set_state(&mut self, source: SourceId, state: SourceState<()>) {
        let lift = |s: &SourceState<()>| -> SourceState<KubeSnapshot> {
            match s {
                SourceState::NotConfigured => SourceState::NotConfigured,
                SourceState::Unavailable(w) => SourceState::Unavailable(w.clone()),
                SourceState::Failed(w) => SourceState::Failed(w.clone()),
                SourceState::Ready(()) => SourceState::NotConfigured,
            }
        };
        match source {
            SourceId::Kubernetes => self.kubernetes = lift(&state),
            other => {
                self.others.insert(other, state);
            }
        }
    }

    /// Whether a source's data is present, or why not, without borrowing its type.
    pub fn source_status(&self, source: SourceId) -> Result<(), Undecided> {
        match source {
            SourceId::Kubernetes => self.kube().map(|_| ()),
            SourceId::Attestation => Ok(()),
            other => self.others.get(&other).unwrap_or(&SourceState::NotConfigured).get(other).map(|_| ()),
        }
    }
}

/// The moment an evaluation is decided at; checks take the clock from here, never the system.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: DateTime<Utc>,
}
