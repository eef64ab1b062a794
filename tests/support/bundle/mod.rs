//! The bundle's dashboards as the tests read them: every panel query, with Grafana's
//! variables substituted the way a dashboard showing everything would.
#![allow(dead_code)]

use serde_json::Value;

/// (file name, dashboard) for every dashboard under `dashboards/`, sorted by name.
pub fn dashboards() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(super::repo("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every panel, rows' nested panels included.
pub fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// (panel title, expr) of every query of every panel.
pub fn queries(d: &Value) -> Vec<(String, String)> {
    panels(d)
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("").to_string();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |t| t["expr"].as_str().map(|e| (title.clone(), e.to_string())))
        })
        .collect()
}

/// The dashboard's template variables and Grafana's interval variables replaced: every
/// variable shows all values (`.*`), `$__rate_interval` is a scrape-safe window.
pub fn substitute(expr: &str, rate_interval: &str) -> String {
    let mut s = expr.replace("$__rate_interval", rate_interval).replace("$__interval", rate_interval);
    let var = regex::Regex::new(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?").unwrap();
    s = var.replace_all(&s, ".*").to_string();
    s
}
