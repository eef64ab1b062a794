//! What an item reads, declared beside its function in the registry: data the plan turns into
//! each source's needs through the item's resolved params, so sources never name an item.

use crate::snapshot::kubernetes::KubeKind;

#[derive(Debug, Clone, Copy)]
pub struct Reads {
    /// The kinds listed for the item (what the live loader lists and `deploy/rbac.yaml` grants).
    pub kinds: &'static [KubeKind],
    /// What else it reads, each named by one of its params.
    pub data: &'static [Read],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The Secret feeding the environment variable the param names, got by name, never listed.
    SecretOfEnv(&'static str),
    /// The ClickHouse tables the param names: one `db.table`, or a map of them.
    ClickhouseTables(&'static str),
    /// `system.query_log` over the window the param gives.
    QueryLog(&'static str),
    /// The PromQL query the param holds, asked of Prometheus.
    Promql(&'static str),
    /// The request the param holds (`GET /path`), asked of `source` (as custom items name it).
    Request { source: &'static str, param: &'static str },
}

impl Reads {
    pub const NOTHING: Reads = Reads { kinds: &[], data: &[] };

    pub const fn kinds(kinds: &'static [KubeKind]) -> Reads {
        Reads { kinds, data: &[] }
    }

    pub const fn data(data: &'static [Read]) -> Reads {
        Reads { kinds: &[], data }
    }

    pub const fn and(self, data: &'static [Read]) -> Reads {
        Reads { kinds: self.kinds, data }
    }
}

/// The workloads plus one more kind, the shape most Kubernetes items read.
macro_rules! workloads_and {
    ($($kind:ident),*) => {
        &[
            $crate::snapshot::kubernetes::KubeKind::Deployment,
            $crate::snapshot::kubernetes::KubeKind::StatefulSet,
            $crate::snapshot::kubernetes::KubeKind::DaemonSet,
            $crate::snapshot::kubernetes::KubeKind::CronJob,
            $crate::snapshot::kubernetes::KubeKind::Job,
            $crate::snapshot::kubernetes::KubeKind::Pod,
            $($crate::snapshot::kubernetes::KubeKind::$kind),*
        ]
    };
}
pub(crate) use workloads_and;

/// An admin-API item: its `request` param asked of the API.
pub const ADMIN_API_REQUEST: Reads = Reads::data(&[Read::Request { source: "infrasage_api", param: "request" }]);
