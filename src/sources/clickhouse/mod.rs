//! The ClickHouse source: server version, `system.disks`, active parts bytes, the engines and
//! TTLs of the tables the items name, the largest result in `system.query_log`, the newest
//! BACKUP/RESTORE in `system.backups`, and whether the well-known default logins still work.
//! Old servers are detected once per connection and read with the fallbacks they need.

mod client;
pub mod config;
pub mod metrics;
mod queries;

use std::sync::Mutex;
use std::time::Duration;

use crate::catalogue::SourceId;
use crate::config::{ClickhouseConfig, SecretString};
use crate::snapshot::clickhouse::{ClickhouseSnapshot, LoginProbe, LoginResult};
use crate::snapshot::SourceData;

use super::{BoxFuture, Gathered, Source};
pub use client::exception_code;
use client::{describe, Transport};

/// What the enabled items need read beyond the fixed set.
#[derive(Debug, Clone, Default)]
pub struct ClickhouseNeeds {
    /// `database.table` of every telemetry and audit table the items name.
    pub tables: Vec<String>,
    /// How far back `system.query_log` is read.
    pub query_log_window: Duration,
}

/// The login pairs every fresh install knows: (user, password, how a finding says it).
pub const DEFAULT_LOGINS: [(&str, &str, &str); 2] =
    [("clickhouse", "clickhouse", "password clickhouse"), ("default", "", "empty password")];

pub struct ClickhouseSource {
    url: String,
    user: String,
    password: SecretString,
    timeout: Duration,
    transport: Transport,
    client: clickhouse::Client,
    needs: ClickhouseNeeds,
    /// Whether the server validates rows (None until the first collection).
    validation: Mutex<Option<bool>>,
}

impl ClickhouseSource {
    pub fn new(cfg: &ClickhouseConfig, needs: ClickhouseNeeds) -> Result<Self, String> {
        let password = match (&cfg.password_file, &cfg.password) {
            (Some(f), _) => SecretString(
                std::fs::read_to_string(f)
                    .map_err(|e| format!("clickhouse.password_file {}: {e}", f.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
            (None, Some(p)) => p.clone(),
            (None, None) => SecretString(String::new()),
        };
        let user = cfg.user.clone().unwrap_or_else(|| "default".to_string());
        // Known from here on, so every error and log line that might echo it masks it (the
        // crate sends it as a header or as Basic auth, so both forms). The well-known default
        // logins the probe tries are public words, not secrets: masking them would hide which
        // login a finding names.
        crate::redact::register_basic(&user, &password.0);
        let url = cfg.url.trim_end_matches('/').to_string();
        let transport = Transport::new(cfg.tls.as_ref())?;
        let client = transport.client(&url, &user, &password.0);
        Ok(ClickhouseSource {
            url,
            user,
            password,
            timeout: cfg.timeout.0,
            transport,
            client,
            needs,
            validation: Mutex::new(None),
        })
    }

    /// The server's version, and whether rows can be validated: found out on the first
    /// collection and kept until one fails (the address may then reach another server).
    async fn detect(&self) -> Result<(bool, String), String> {
        let cached = *self.validation.lock().expect("validation lock");
        let (validation, version) = match cached {
            Some(v) => (v, queries::version(&self.client.clone().with_validation(v)).await),
            None => match queries::version(&self.client).await {
                // No RowBinaryWithNamesAndTypes (before 20.x): read rows without type checks.
                Err(e) if queries::is_unknown_format(&e) => {
                    (false, queries::version(&self.client.clone().with_validation(false)).await)
                }
                other => (true, other),
            },
        };
        let version = version.map_err(|e| format!("{}: {}", self.who(), describe(&e, &self.password.0)))?;
        if !queries::looks_like_version(&version) {
            return Err(format!(
                "{}: answer is not ClickHouse's: version() returned {:?}",
                self.who(),
                client::one_line(&version)
            ));
        }
        *self.validation.lock().expect("validation lock") = Some(validation);
        Ok((validation, version))
    }

    fn who(&self) -> String {
        format!("{} as {}", without_userinfo(&self.url), self.user)
    }

    async fn read(&self) -> Result<ClickhouseSnapshot, String> {
        let (validation, version) = self.detect().await?;
        let secret = &self.password.0;
        let c = self.client.clone().with_validation(validation);
        let fail =
            |what: &str, e: clickhouse::error::Error| format!("{}: {what}: {}", self.who(), describe(&e, secret));
        // Asked every time: system.query_log appears only after the server's first flush.
        let system = queries::system_tables(&c).await.map_err(|e| fail("system.tables", e))?;
        let has = |t: &str| system.iter().any(|s| s == t);
        let disks =
            if has("disks") { Some(queries::disks(&c).await.map_err(|e| fail("system.disks", e))?) } else { None };
        let parts = queries::parts(&c).await.map_err(|e| fail("system.parts", e))?;
        let tables = queries::tables(&c, &self.needs.tables).await.map_err(|e| fail("system.tables", e))?;
        let largest_result = if has("query_log") {
            queries::largest_result(&c, self.needs.query_log_window).await.map_err(|e| describe(&e, secret))
        } else {
            Err("the server keeps no system.query_log (query logging is off or nothing was logged yet)".to_string())
        };
        let backups = if has("backups") {
            queries::backups(&c).await.map_err(|e| describe(&e, secret))
        } else {
            Err(format!("server {version} has no system.backups"))
        };
        let default_logins = self.probe_default_logins().await;
        Ok(ClickhouseSnapshot {
            version,
            old_server: !validation,
            disks,
            parts,
            tables,
            largest_result,
            backups,
            default_logins,
        })
    }

    /// Each default login on a client of its own, so nothing the exporter's own session holds
    /// can make a login look accepted.
    async fn probe_default_logins(&self) -> Vec<LoginProbe> {
        // Two round trips on loopback; sequential keeps it simple.
        let mut out = Vec::new();
        for (user, password, desc) in DEFAULT_LOGINS {
            let c = self.transport.client(&self.url, user, password);
            let result = match queries::select_one(&c).await {
                Ok(true) => LoginResult::Accepted,
                Ok(false) => LoginResult::Unknown("SELECT 1 did not answer 1: not a ClickHouse answer".into()),
                Err(e) => {
                    let refused = matches!(&e, clickhouse::error::Error::BadResponse(body)
                        if exception_code(body).is_some_and(queries::is_login_refusal));
                    let text = describe(&e, &self.password.0);
                    if refused {
                        LoginResult::Rejected(text)
                    } else {
                        LoginResult::Unknown(text)
                    }
                }
            };
            out.push(LoginProbe { user: user.to_string(), password_desc: desc.to_string(), result });
        }
        out
    }
}

/// The URL for reasons: credentials in its authority (`user:pw@host`) are left out.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

impl Source for ClickhouseSource {
    fn id(&self) -> SourceId {
        SourceId::Clickhouse
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        Box::pin(async move {
            match self.read().await {
                Ok(s) => {
                    let mut warnings = Vec::new();
                    if s.old_server {
                        warnings.push(format!(
                            "server {} has no RowBinaryWithNamesAndTypes: rows read without type validation",
                            s.version
                        ));
                    }
                    Ok(Gathered { data: SourceData::Clickhouse(std::sync::Arc::new(s)), warnings })
                }
                Err(e) => {
                    // The next gather may reach another server behind the same address.
                    *self.validation.lock().expect("validation lock") = None;
                    Err(e)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(super::without_userinfo("https://u:hunter2@ch:8443/x"), "https://ch:8443/x");
        assert_eq!(super::without_userinfo("http://ch:8123"), "http://ch:8123");
        assert_eq!(super::without_userinfo("http://ch:8123/?a=b@c"), "http://ch:8123/?a=b@c");
    }
}
