//! Figures for BENCHMARKS.md, HTTP sources: one evaluation of every admin-API item over large
//! answers (CEL), the Alertmanager routing walk over a wide tree, and one full evaluation
//! gathering services + admin API from a loopback server. Run: `cargo bench --bench http_sources`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use infrasage_readiness::checks::cel::evaluate;
use infrasage_readiness::checks::monitoring::route_alert;
use infrasage_readiness::config;
use infrasage_readiness::engine::Engine;
use infrasage_readiness::snapshot::http::{MatchOp, Matcher, Route};
use serde_json::{json, Value};

const ROUNDS: usize = 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    median(
        (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// An answer of `n` keys / users / runbooks.
fn answers(n: usize) -> Value {
    let keys: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("key-{i}"), "scopes": ["ingestion"], "expires_at": null, "system": false, "revoked": false, "used_for_ingestion": i % 2 == 0}))
        .collect();
    let users: Vec<Value> =
        (0..n).map(|i| json!({"email": format!("u{i}@x"), "roles": ["Operator"], "human": true})).collect();
    let runbooks: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("rb-{i}"), "auto_execute": true, "requires_approval": true, "destructive": true, "last_dry_run": {"status": "success", "at": "x"}}))
        .collect();
    json!({"api_keys": keys, "users": users, "runbooks": runbooks})
}

fn main() {
    for n in [100, 10_000] {
        let body = answers(n);
        for (name, expr, params) in [
            ("api_keys_expire", "body.api_keys.filter(k, !k.system && !k.revoked && k.expires_at == null).map(k, k.name)", json!({})),
            (
                "human_users_least_privilege",
                "body.users.filter(u, u.human && u.roles.exists(r, r in params.admin_roles) && !(u.email in params.allow_list)).map(u, u.email)",
                json!({"admin_roles": ["Admin", "Super-Admin"], "allow_list": []}),
            ),
            ("runbooks_dry_run_tested", "body.runbooks.filter(r, r.auto_execute && (r.last_dry_run == null || r.last_dry_run.status != 'success')).map(r, r.name)", json!({})),
        ] {
            let t = time(|| {
                evaluate(expr, &body, &params).unwrap();
            });
            println!("CEL {name:<30} over {n:>6} objects: median {t:>10.2?}");
        }
    }

    // 500 sibling routes, the InfraSage one last: the worst case of a first-match walk.
    let mut root = Route { receiver: Some("default".into()), ..Default::default() };
    for i in 0..500 {
        let value = if i == 499 { "infrasage".to_string() } else { format!("team-{i}") };
        root.routes.push(Route {
            receiver: Some(format!("r{i}")),
            matchers: vec![Matcher { name: "service".into(), op: MatchOp::Regex, value }],
            ..Default::default()
        });
    }
    let labels = [("service".to_string(), "infrasage".to_string())].into_iter().collect();
    let t = time(|| assert_eq!(route_alert(&root, &labels).unwrap(), ["r499"]));
    println!("routing walk, 500 regex routes: median {t:>10.2?}");

    // One evaluation gathering 3 services and 7 admin-API requests from one loopback server.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let body = answers(100).to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let health = buf.starts_with(b"GET /health");
                let b = if health { r#"{"status":"ok","version":"1"}"#.to_string() } else { body };
                let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}", b.len());
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let url = format!("http://{addr}");
    std::fs::write(
        &path,
        format!("services:\n  gateway: {{url: {url}}}\n  aiops: {{url: {url}}}\n  ml: {{url: {url}}}\ninfrasage_api: {{url: {url}}}\n"),
    )
    .unwrap();
    let config = config::load(Some(&path)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let engine = Engine::from_config(&config).unwrap();
    let t = time(|| {
        rt.block_on(engine.evaluate());
    });
    println!("evaluation gathering 3 /health + 7 admin-API requests (loopback): median {t:>10.2?}");
}
