//! The checklist as data: every item of the production-readiness checklist with its stable id.
//! The ids are public interface (metric labels, config keys, alert queries): never rename one
//! without a deprecation note.

mod items;
mod params;

use serde::{Deserialize, Serialize};

pub use items::ITEMS;
pub use params::{parse_duration, Params, MAX_DURATION};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Infrastructure,
    Secrets,
    Network,
    Auth,
    Scaling,
    Retention,
    Monitoring,
    Alerting,
    Recovery,
    LoadTesting,
    Golive,
}

impl Category {
    pub const ALL: [Category; 11] = [
        Category::Infrastructure,
        Category::Secrets,
        Category::Network,
        Category::Auth,
        Category::Scaling,
        Category::Retention,
        Category::Monitoring,
        Category::Alerting,
        Category::Recovery,
        Category::LoadTesting,
        Category::Golive,
    ];

    /// The label value and config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Infrastructure => "infrastructure",
            Category::Secrets => "secrets",
            Category::Network => "network",
            Category::Auth => "auth",
            Category::Scaling => "scaling",
            Category::Retention => "retention",
            Category::Monitoring => "monitoring",
            Category::Alerting => "alerting",
            Category::Recovery => "recovery",
            Category::LoadTesting => "load_testing",
            Category::Golive => "golive",
        }
    }

    /// The heading of the category in the checklist.
    pub fn heading(self) -> &'static str {
        match self {
            Category::Infrastructure => "Infrastructure",
            Category::Secrets => "Secrets & Credentials",
            Category::Network => "Network & TLS",
            Category::Auth => "Authentication & Authorization",
            Category::Scaling => "Scaling & Capacity",
            Category::Retention => "Retention & Compliance",
            Category::Monitoring => "Monitoring InfraSage Itself",
            Category::Alerting => "Alerting & Incident Response",
            Category::Recovery => "Disaster Recovery",
            Category::LoadTesting => "Load Testing",
            Category::Golive => "Go-Live Signoff",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Order of a category name in grouped outputs: the checklist's; a custom category's own
    /// name after them.
    pub fn rank(name: &str) -> usize {
        Category::parse(name).map(|c| c as usize).unwrap_or(usize::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Automation {
    Automated,
    Attested,
}

impl Automation {
    pub fn as_str(self) -> &'static str {
        match self {
            Automation::Automated => "automated",
            Automation::Attested => "attested",
        }
    }
}

/// The outside systems that hold evidence, one row each: the variant, its spelling (the
/// config key and the `source` label) and its legend letters in CATALOGUE.md.
macro_rules! source_ids {
    ($($variant:ident => $name:literal, $short:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum SourceId {
            $($variant,)*
        }

        impl SourceId {
            pub const ALL: &'static [SourceId] = &[$(SourceId::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(SourceId::$variant => $name,)*
                }
            }

            /// The legend letters of CATALOGUE.md.
            pub fn short(self) -> &'static str {
                match self {
                    $(SourceId::$variant => $short,)*
                }
            }
        }
    };
}

source_ids! {
    Kubernetes => "kubernetes", "K";
    Kafka => "kafka", "KF";
    Clickhouse => "clickhouse", "CH";
    Services => "services", "H";
    Prometheus => "prometheus", "P";
    Alertmanager => "alertmanager", "AM";
    Grafana => "grafana", "G";
    InfrasageApi => "infrasage_api", "API";
    Attestation => "attestation", "A";
}

/// How a parameter's value is checked when the config overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    Int,
    Float,
    String,
    Regex,
    Duration,
    StringList,
    /// An object whose values are strings or numbers (per-type thresholds, label sets).
    Map,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    /// The default as a JSON literal.
    pub default: &'static str,
    pub help: &'static str,
}

impl ParamSpec {
    pub fn default_value(&self) -> serde_json::Value {
        serde_json::from_str(self.default).expect("catalogue defaults are valid JSON")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: &'static str,
    pub category: Category,
    pub title: &'static str,
    pub severity: Severity,
    pub automation: Automation,
    pub sources: &'static [SourceId],
    /// When the item passes, in one sentence.
    pub rule: &'static str,
    pub params: &'static [ParamSpec],
    /// Anchor of the item's section in the checklist documentation.
    pub anchor: &'static str,
}

impl Item {
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

pub fn find(id: &str) -> Option<&'static Item> {
    ITEMS.iter().find(|i| i.id == id)
}

/// The link for an item: the configured documentation base plus the item's anchor.
pub fn doc_link(base: &str, item_anchor: &str) -> String {
    format!("{}#{}", base.trim_end_matches('#'), item_anchor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unique_items_covering_every_category() {
        let ids: HashSet<_> = ITEMS.iter().map(|i| i.id).collect();
        assert_eq!(ids.len(), ITEMS.len());
        for c in Category::ALL {
            assert!(ITEMS.iter().any(|i| i.category == c), "{c:?} has no item");
        }
    }

    #[test]
    fn every_default_is_valid_json_of_its_kind() {
        for item in ITEMS {
            for p in item.params {
                let v = p.default_value();
                let ok = match p.kind {
                    ParamKind::Int => v.is_i64(),
                    ParamKind::Float => v.is_number(),
                    ParamKind::String | ParamKind::Regex | ParamKind::Duration => v.is_string(),
                    ParamKind::StringList => v.is_array(),
                    ParamKind::Map => v.is_object(),
                };
                assert!(ok, "{}.{} default {} is not {:?}", item.id, p.name, p.default, p.kind);
            }
        }
    }

    #[test]
    fn attested_items_default_to_warning() {
        for item in ITEMS.iter().filter(|i| i.automation == Automation::Attested) {
            assert_eq!(item.severity, Severity::Warning, "{}", item.id);
        }
    }
}
