//! The Prometheus HTTP API: active targets, loaded rules, and the PromQL queries items need
//! (the queries the plan asks for).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{Endpoint, Token};
use crate::catalogue::SourceId;
use crate::config::Config;
use crate::snapshot::http::RequestKey;
use crate::snapshot::http::{PromRule, PrometheusSnapshot, ScrapeTarget};
use crate::snapshot::SourceData;
use crate::sources::{BoxFuture, Gathered, Needs, Source};

pub struct PrometheusSource {
    endpoint: Endpoint,
    timeout: Duration,
    queries: Vec<String>,
    planned: Vec<RequestKey>,
}

/// The envelope of every Prometheus API answer.
#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Targets {
    #[serde(rename = "activeTargets")]
    active: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    labels: BTreeMap<String, String>,
    health: String,
    #[serde(rename = "lastError", default)]
    last_error: String,
}

#[derive(Deserialize)]
struct Rules {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    query: String,
}

#[derive(Deserialize)]
struct Query {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

impl PrometheusSource {
    pub fn new(config: &Config, needs: &Needs) -> Result<Option<PrometheusSource>, String> {
        let Some(p) = &config.prometheus else { return Ok(None) };
        let endpoint = Endpoint::new(&p.url, p.tls.as_ref(), p.timeout.0, Token::default())
            .map_err(|e| format!("prometheus: {e}"))?;
        Ok(Some(PrometheusSource {
            endpoint,
            timeout: p.timeout.0,
            queries: needs.promql.clone(),
            planned: needs.requests_of("prometheus"),
        }))
    }

    async fn api<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let v = self.endpoint.json("GET", path).await?;
        let where_ = path.split('?').next().unwrap_or(path);
        let env: Envelope<T> =
            crate::redact::from_json_value(v).map_err(|e| format!("{where_}: unexpected answer: {e}"))?;
        match (env.status.as_str(), env.data) {
            ("success", Some(d)) => Ok(d),
            _ => Err(format!("{where_}: {}", env.error.unwrap_or_else(|| format!("status {}", env.status)))),
        }
    }

    async fn query(&self, promql: &str) -> Result<Option<f64>, String> {
        let mut url = self.endpoint.url("/api/v1/query")?;
        url.query_pairs_mut().append_pair("query", promql);
        let path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
        let q: Query = self.api(&path).await?;
        let first = match q.result_type.as_str() {
            "vector" => q.result.get(0).and_then(|s| s.get("value")).cloned(),
            "scalar" => Some(q.result),
            other => return Err(format!("query {promql:?} gives a {other}, not a vector or scalar")),
        };
        let Some(sample) = first else { return Ok(None) };
        // A sample is [timestamp, "value"]; Prometheus writes the value as a string.
        let v = sample.get(1).and_then(|v| v.as_str()).ok_or_else(|| format!("query {promql:?}: malformed sample"))?;
        v.parse::<f64>().map(Some).map_err(|_| format!("query {promql:?}: {v:?} is not a number"))
    }
}

impl Source for PrometheusSource {
    fn id(&self) -> SourceId {
        SourceId::Prometheus
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        Box::pin(async move {
            let targets: Targets = self.api("/api/v1/targets?state=active").await?;
            let rules: Rules = self.api("/api/v1/rules").await?;
            let mut snap = PrometheusSnapshot {
                targets: targets
                    .active
                    .into_iter()
                    .map(|t| ScrapeTarget {
                        job: t.labels.get("job").cloned().unwrap_or_default(),
                        instance: t.labels.get("instance").cloned().unwrap_or_default(),
                        health: t.health,
                        last_error: t.last_error,
                    })
                    .collect(),
                rules: rules
                    .groups
                    .into_iter()
                    .flat_map(|g| {
                        let group = g.name;
                        g.rules.into_iter().map(move |r| PromRule {
                            group: group.clone(),
                            name: r.name,
                            kind: r.kind,
                            query: r.query,
                        })
                    })
                    .collect(),
                ..Default::default()
            };
            for q in &self.queries {
                snap.queries.insert(q.clone(), self.query(q).await);
            }
            snap.answers = self.endpoint.answers(&self.planned).await;
            Ok(Gathered { data: SourceData::Prometheus(std::sync::Arc::new(snap)), warnings: Vec::new() })
        })
    }
}
