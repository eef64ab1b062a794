//! Renderers of a [`Report`](crate::results::Report) for people and machines: the CLI's
//! table, JSON, JUnit and markdown, and the exporter's HTML page. Plus the catalogue tables.

pub mod catalogue;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod table;

use crate::engine::category_rank;
use crate::results::{CheckReport, Report};

/// Items grouped by category in checklist order, each group in report order.
pub fn by_category(report: &Report) -> Vec<(&str, Vec<&CheckReport>)> {
    let mut groups: Vec<(&str, Vec<&CheckReport>)> = Vec::new();
    for c in &report.checks {
        match groups.iter_mut().find(|(name, _)| *name == c.category) {
            Some((_, v)) => v.push(c),
            None => groups.push((&c.category, vec![c])),
        }
    }
    groups.sort_by_key(|(name, _)| (category_rank(name), name.to_string()));
    groups
}

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("reports serialize")
}

/// The heading of a category, falling back to its name for custom categories.
pub fn heading(category: &str) -> String {
    crate::catalogue::Category::parse(category).map(|c| c.heading().to_string()).unwrap_or_else(|| category.to_string())
}

/// How many findings an item had beyond the ones listed.
pub fn more_findings(c: &CheckReport) -> usize {
    c.findings_total.saturating_sub(c.findings.len())
}
