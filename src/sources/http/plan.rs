//! Which requests each HTTP source makes besides its own: the request of every enabled
//! admin-API item (its `request` parameter) and of every custom item naming the source.

use std::collections::BTreeSet;

use crate::catalogue::{self, SourceId};
use crate::checks::Params;
use crate::config::Config;

/// `"GET /path"` → (`GET`, `/path`); a bare path means GET.
pub fn split(key: &str) -> (&str, &str) {
    match key.trim().split_once(' ') {
        Some((m, p)) => (m, p.trim()),
        None => ("GET", key.trim()),
    }
}

/// The canonical key of a request, as stored in [`crate::snapshot::http::Answers`].
pub fn key(method: &str, path: &str) -> String {
    format!("{} {}", method.trim().to_ascii_uppercase(), path.trim())
}

/// The planned requests of `source` (named as in `custom_checks[].request.source`).
pub fn requests(config: &Config, source: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    if source == "infrasage_api" {
        for item in catalogue::ITEMS.iter().filter(|i| i.sources.contains(&SourceId::InfrasageApi)) {
            let o = config.checks.get(item.id);
            if o.and_then(|o| o.enabled) == Some(false) {
                continue;
            }
            if let Ok(r) = Params::resolve(item, o.map(|o| &o.params)).str("request") {
                let (m, p) = split(r);
                out.insert(key(m, p));
            }
        }
    }
    for c in config.custom_checks.iter().filter(|c| c.request.source == source) {
        if config.checks.get(&c.id).and_then(|o| o.enabled) != Some(false) {
            out.insert(key(&c.request.method, &c.request.path));
        }
    }
    out.into_iter().collect()
}
