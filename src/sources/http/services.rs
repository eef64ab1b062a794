//! `/health` of each configured InfraSage service. One service failing is that service's
//! evidence, not the source's failure: every probe is recorded with what went wrong.

use std::time::{Duration, Instant};

use super::{Endpoint, Token};
use crate::catalogue::SourceId;
use crate::config::Config;
use crate::snapshot::http::{RequestKey, ServiceProbe, ServicesSnapshot};
use crate::snapshot::SourceData;
use crate::sources::{BoxFuture, Gathered, Needs, Source};

struct Service {
    name: String,
    url: String,
    endpoint: Endpoint,
    planned: Vec<RequestKey>,
}

pub struct ServicesSource {
    services: Vec<Service>,
    timeout: Duration,
}

impl ServicesSource {
    pub fn new(config: &Config, needs: &Needs) -> Result<Option<ServicesSource>, String> {
        let Some(s) = &config.services else { return Ok(None) };
        let mut services = Vec::new();
        let mut timeout = Duration::ZERO;
        for (name, ep) in [("gateway", &s.gateway), ("aiops", &s.aiops), ("ml", &s.ml)] {
            let Some(ep) = ep else { continue };
            let endpoint = Endpoint::new(&ep.url, ep.tls.as_ref(), ep.timeout.0, Token::default())
                .map_err(|e| format!("services.{name}: {e}"))?;
            timeout = timeout.max(ep.timeout.0);
            let planned = needs.requests_of(&format!("services.{name}"));
            services.push(Service { name: name.to_string(), url: ep.url.clone(), endpoint, planned });
        }
        if services.is_empty() {
            return Ok(None);
        }
        // Each probe stops at its own timeout; the margin lets it report that itself.
        Ok(Some(ServicesSource { services, timeout: timeout + Duration::from_secs(1) }))
    }
}

impl Source for ServicesSource {
    fn id(&self) -> SourceId {
        SourceId::Services
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        Box::pin(async move {
            let mut set = tokio::task::JoinSet::new();
            for s in &self.services {
                let (name, url, ep, planned) = (s.name.clone(), s.url.clone(), s.endpoint.clone(), s.planned.clone());
                set.spawn(async move {
                    let mut probe = probe(&ep, url).await;
                    probe.answers = ep.answers(&planned).await;
                    (name, probe)
                });
            }
            let mut snap = ServicesSnapshot::default();
            while let Some(joined) = set.join_next().await {
                let (name, probe) = joined.map_err(|e| format!("a probe task failed: {e}"))?;
                snap.services.insert(name, probe);
            }
            Ok(Gathered { data: SourceData::Services(std::sync::Arc::new(snap)), warnings: Vec::new() })
        })
    }
}

async fn probe(ep: &Endpoint, url: String) -> ServiceProbe {
    let started = Instant::now();
    let answer = ep.send("GET", "/health").await;
    let mut p = ServiceProbe { url, duration_seconds: started.elapsed().as_secs_f64(), ..Default::default() };
    match answer {
        Ok(a) => {
            p.status = Some(a.status);
            p.body = Some(
                serde_json::from_slice(&a.body).map_err(|e| format!("not JSON: {}", crate::redact::json_error(&e))),
            );
        }
        Err(e) => p.error = Some(e),
    }
    p
}
