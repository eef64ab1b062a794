//! Grafana's search API (`/api/search?type=dash-db`) with a service-account token.

use std::time::Duration;

use serde::Deserialize;

use super::{Endpoint, Token};
use crate::catalogue::SourceId;
use crate::config::Config;
use crate::snapshot::http::RequestKey;
use crate::snapshot::http::{Dashboard, GrafanaSnapshot};
use crate::snapshot::SourceData;
use crate::sources::{BoxFuture, Gathered, Needs, Source};

pub struct GrafanaSource {
    endpoint: Endpoint,
    timeout: Duration,
    planned: Vec<RequestKey>,
}

#[derive(Deserialize)]
struct Hit {
    #[serde(default)]
    uid: String,
    title: String,
}

impl GrafanaSource {
    pub fn new(config: &Config, needs: &Needs) -> Result<Option<GrafanaSource>, String> {
        let Some(g) = &config.grafana else { return Ok(None) };
        let token = Token { file: g.token_file.clone(), value: g.token.clone() };
        let endpoint =
            Endpoint::new(&g.url, g.tls.as_ref(), g.timeout.0, token).map_err(|e| format!("grafana: {e}"))?;
        Ok(Some(GrafanaSource { endpoint, timeout: g.timeout.0, planned: needs.requests_of("grafana") }))
    }
}

impl Source for GrafanaSource {
    fn id(&self) -> SourceId {
        SourceId::Grafana
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        Box::pin(async move {
            // 5000 is Grafana's largest page; more dashboards than that is not a readiness question.
            let v = self.endpoint.json("GET", "/api/search?type=dash-db&limit=5000").await?;
            let hits: Vec<Hit> =
                crate::redact::from_json_value(v).map_err(|e| format!("/api/search: unexpected answer: {e}"))?;
            let dashboards = hits.into_iter().map(|h| Dashboard { uid: h.uid, title: h.title }).collect();
            let answers = self.endpoint.answers(&self.planned).await;
            let snap = GrafanaSnapshot { dashboards, answers };
            Ok(Gathered { data: SourceData::Grafana(std::sync::Arc::new(snap)), warnings: Vec::new() })
        })
    }
}
