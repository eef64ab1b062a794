//! The InfraSage admin API: only the planned requests (each enabled API item's `request` and
//! the custom items over it). A request that fails is that request's answer, so only the
//! items reading it become `error`.

use std::time::Duration;

use super::{Endpoint, Token};
use crate::catalogue::SourceId;
use crate::config::Config;
use crate::snapshot::http::ApiSnapshot;
use crate::snapshot::http::RequestKey;
use crate::snapshot::SourceData;
use crate::sources::{BoxFuture, Gathered, Needs, Source};

pub struct ApiSource {
    endpoint: Endpoint,
    timeout: Duration,
    planned: Vec<RequestKey>,
}

impl ApiSource {
    pub fn new(config: &Config, needs: &Needs) -> Result<Option<ApiSource>, String> {
        let Some(a) = &config.infrasage_api else { return Ok(None) };
        let token = Token { file: a.token_file.clone(), value: a.token.clone() };
        let endpoint =
            Endpoint::new(&a.url, a.tls.as_ref(), a.timeout.0, token).map_err(|e| format!("infrasage_api: {e}"))?;
        Ok(Some(ApiSource { endpoint, timeout: a.timeout.0, planned: needs.requests_of("infrasage_api") }))
    }
}

impl Source for ApiSource {
    fn id(&self) -> SourceId {
        SourceId::InfrasageApi
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        Box::pin(async move {
            let answers = self.endpoint.answers(&self.planned).await;
            // Nothing answered at all: the API is down, not one endpoint of it.
            if !answers.is_empty() && answers.values().all(|a| a.is_err()) {
                let first = answers.values().find_map(|a| a.as_ref().err()).cloned().unwrap_or_default();
                return Err(first);
            }
            Ok(Gathered {
                data: SourceData::InfrasageApi(std::sync::Arc::new(ApiSnapshot { answers })),
                warnings: Vec::new(),
            })
        })
    }
}
