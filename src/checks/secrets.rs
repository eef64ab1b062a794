//! Checks of the secrets category.
//!
//! Secret values are read only to judge them. No value, nor any part of one, may reach a
//! finding, a reason, a log line or a panic message: findings describe a value ("is 12 bytes",
//! "is a known example value"), never quote it.

use std::collections::BTreeSet;

use regex::Regex;

use super::common::service_workloads;
use super::strength::estimate;
use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::kube_query::{namespace_of, object_ref};
use crate::snapshot::{EnvValue, KubeSnapshot, Workload};

pub fn jwt_secret_strong(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let env_name = ctx.params.str("env_name")?;
    let min_bytes = usize::try_from(ctx.params.int("min_bytes")?).unwrap_or(0);
    let min_bits = ctx.params.int("min_bits")?.max(0) as f64;
    let rules = Rules { min_bytes, min_bits };
    let (workloads, mut findings) = service_workloads(k);

    // A Secret key shared by several workloads is judged once and reported on the Secret.
    let mut judged: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut strong: Vec<String> = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    let mut maybe_hidden: Vec<String> = Vec::new();
    let mut setters = 0usize;

    for w in &workloads {
        let ns = w.namespace();
        for (c, init) in w.containers() {
            if !KubeSnapshot::can_set_env(c, env_name) {
                continue;
            }
            let env = k.resolve_env(ns, c);
            let here = w.container_ref(c, init);
            let Some(value) = env.get(env_name) else {
                // envFrom of an object the snapshot lacks may set it; only matters if nothing else does.
                for src in &env.opaque_sources {
                    maybe_hidden
                        .push(format!("{here} may set {env_name} through envFrom {src}, which is not in the snapshot"));
                }
                continue;
            };
            setters += 1;
            match value {
                EnvValue::Secret { name, key } => {
                    if !judged.insert((ns.to_string(), name.clone(), key.clone())) {
                        continue;
                    }
                    let object = format!("Secret/{ns}/{name} key {key}");
                    let Some(secret) = k.secret(ns, name) else {
                        unreadable.push(format!("cannot read Secret {ns}/{name}: {}", secret_unreadable_reason(k)));
                        continue;
                    };
                    match secret.data.get(key) {
                        None => findings.push(Finding::new(
                            object,
                            format!("Secret {ns}/{name} has no key {key}, which {here} reads {env_name} from"),
                        )),
                        Some(bytes) => {
                            let weak = weaknesses(&bytes.0, &rules);
                            if weak.is_empty() {
                                strong.push(format!("Secret {ns}/{name} key {key}"));
                            } else {
                                findings
                                    .push(Finding::new(object, format!("the {env_name} value {}", weak.join(", "))));
                            }
                        }
                    }
                }
                EnvValue::Literal(text) => {
                    let mut msg = format!("{env_name} is a literal in the pod spec, not a Secret");
                    append_weaknesses(&mut msg, text.as_bytes(), &rules);
                    findings.push(Finding::new(here, msg));
                }
                EnvValue::ConfigMap { name, key, value } => {
                    let mut msg = format!("{env_name} comes from ConfigMap {name} key {key}, not a Secret");
                    match value {
                        Some(text) => append_weaknesses(&mut msg, text.as_bytes(), &rules),
                        None => msg.push_str(" (its value is not in the snapshot)"),
                    }
                    findings.push(Finding::new(here, msg));
                }
                EnvValue::Other => findings.push(Finding::new(
                    here,
                    format!("{env_name} comes from a field reference, not a Secret, and cannot be judged"),
                )),
            }
        }
    }

    if setters == 0 && maybe_hidden.is_empty() && !workloads.is_empty() {
        let objects = workloads.iter().map(Workload::object).collect::<Vec<_>>().join(", ");
        findings.push(Finding::new(objects, format!("no InfraSage service workload sets {env_name}")));
    }
    if !findings.is_empty() {
        return Ok(Outcome::from_findings(findings, ""));
    }
    if let Some(first) = unreadable.first() {
        return Err(Undecided::skipped(with_more(first, unreadable.len())));
    }
    if setters == 0 {
        if let Some(first) = maybe_hidden.first() {
            return Err(Undecided::skipped(with_more(first, maybe_hidden.len())));
        }
    }
    Ok(Outcome::pass(format!(
        "{env_name} of {setters} service container(s) comes from {}: at least {min_bytes} bytes and about {min_bits} bits, no known example value, not low-entropy",
        strong.join(", ")
    )))
}

pub fn secrets_not_in_configmaps(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let pattern = ctx.params.regex("name_pattern")?;
    let mut findings = Vec::new();

    let config_maps: Vec<_> = k.config_maps.iter().filter(|m| k.in_scope(namespace_of(&m.metadata))).collect();
    for m in &config_maps {
        let object = object_ref("ConfigMap", &m.metadata);
        for (key, value) in m.data.iter().flatten() {
            if credential_name(&pattern, key) && credential_value(value) {
                findings.push(Finding::new(
                    format!("{object} key {key}"),
                    format!("key {key} looks like a credential and holds a value; credentials belong in a Secret"),
                ));
            }
        }
        // Binary values cannot be told apart from paths or flags; a credential-like key with
        // any content is enough.
        for (key, value) in m.binary_data.iter().flatten() {
            if credential_name(&pattern, key) && !value.0.is_empty() {
                findings.push(Finding::new(
                    format!("{object} key {key}"),
                    format!(
                        "binary key {key} looks like a credential and holds a value; credentials belong in a Secret"
                    ),
                ));
            }
        }
    }

    let workloads = k.workloads();
    for w in &workloads {
        for (c, init) in w.containers() {
            for var in c.env.iter().flatten() {
                if var.value_from.is_some() {
                    continue;
                }
                let value = var.value.as_deref().unwrap_or("");
                if credential_name(&pattern, &var.name) && credential_value(value) {
                    findings.push(Finding::new(
                        w.container_ref(c, init),
                        format!(
                            "env {} looks like a credential and is a literal in the pod spec; take it from a Secret",
                            var.name
                        ),
                    ));
                }
            }
        }
    }

    Ok(Outcome::from_findings(
        findings,
        format!(
            "no key of {} ConfigMap(s) and no literal env value of {} workload(s) in scope looks like a credential",
            config_maps.len(),
            workloads.len()
        ),
    ))
}

pub fn anthropic_key_from_secret(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let env_name = ctx.params.str("env_name")?;
    let mut findings = Vec::new();
    let mut from_secret = 0usize;
    let mut unseen_sources = 0usize;

    for w in k.workloads() {
        for (c, init) in w.containers() {
            if !KubeSnapshot::can_set_env(c, env_name) {
                continue;
            }
            let env = k.resolve_env(w.namespace(), c);
            let here = w.container_ref(c, init);
            match env.get(env_name) {
                None => unseen_sources += env.opaque_sources.len(),
                Some(EnvValue::Secret { .. }) => from_secret += 1,
                Some(EnvValue::Literal(_)) => {
                    findings.push(Finding::new(here, format!("{env_name} is a literal in the pod spec, not a Secret")))
                }
                Some(EnvValue::ConfigMap { name, key, .. }) => findings.push(Finding::new(
                    here,
                    format!("{env_name} comes from ConfigMap {name} key {key}, not a Secret"),
                )),
                Some(EnvValue::Other) => {
                    findings.push(Finding::new(here, format!("{env_name} comes from a field reference, not a Secret")))
                }
            }
        }
    }

    // envFrom objects missing from the snapshot could set the variable; say so rather than guess.
    let unseen = if unseen_sources > 0 {
        format!(" ({unseen_sources} envFrom source(s) not in the snapshot were not inspected)")
    } else {
        String::new()
    };
    let pass = if from_secret == 0 {
        format!("no container in scope sets {env_name}{unseen}")
    } else {
        format!("all {from_secret} container(s) that set {env_name} take it from a Secret{unseen}")
    };
    Ok(Outcome::from_findings(findings, pass))
}

/// Why a Secret the snapshot should hold is absent, without naming anything inside it.
fn secret_unreadable_reason(k: &KubeSnapshot) -> String {
    k.unreadable
        .iter()
        .find(|(kind, _)| kind.eq_ignore_ascii_case("secrets") || kind.eq_ignore_ascii_case("secret"))
        .map(|(_, why)| why.clone())
        .unwrap_or_else(|| "it is not in the snapshot".to_string())
}

fn with_more(first: &str, n: usize) -> String {
    if n > 1 {
        format!("{first} (and {} more)", n - 1)
    } else {
        first.to_string()
    }
}

/// What a JWT secret must meet: its length in bytes and the bits it can carry.
struct Rules {
    min_bytes: usize,
    min_bits: f64,
}

fn append_weaknesses(msg: &mut String, value: &[u8], rules: &Rules) {
    let weak = weaknesses(value, rules);
    if !weak.is_empty() {
        msg.push_str("; the value ");
        msg.push_str(&weak.join(", "));
    }
}

/// Known example and default JWT secrets, compared case-insensitively against the whole
/// value: the usual framework defaults, tutorial values and this product's name.
const EXAMPLE_VALUES: &[&str] = &[
    "secret",
    "changeme",
    "change-me",
    "change_me",
    "your-256-bit-secret",
    "your-secret-key",
    "your_secret_key",
    "supersecret",
    "super-secret",
    "jwt-secret",
    "jwt_secret",
    "jwtsecret",
    "mysecret",
    "my-secret",
    "secretkey",
    "secret-key",
    "password",
    "infrasage",
    "example",
    "default",
    "test",
    "please-change-me",
];

/// Fragments that mark a placeholder anywhere in the value ("changeme-in-production-...").
const EXAMPLE_FRAGMENTS: &[&str] =
    &["changeme", "change-me", "change_me", "example", "placeholder", "replace-me", "replaceme", "your-256-bit"];

/// What makes a secret weak, described without quoting it; empty when it is strong. A
/// generator's output (hex or base64 of 32 random bytes) passes every test.
fn weaknesses(raw: &[u8], rules: &Rules) -> Vec<String> {
    let min_bytes = rules.min_bytes;
    // Surrounding whitespace (a trailing newline from --from-file) adds no strength.
    let v = raw.trim_ascii();
    if v.is_empty() {
        return vec!["is empty".to_string()];
    }
    let mut out = Vec::new();
    if v.len() < min_bytes {
        out.push(format!("is {} bytes (minimum {min_bytes})", v.len()));
    }
    let lower = v.to_ascii_lowercase();
    if EXAMPLE_VALUES.iter().any(|e| lower == e.as_bytes())
        || EXAMPLE_FRAGMENTS.iter().any(|f| lower.windows(f.len()).any(|w| w == f.as_bytes()))
    {
        out.push("is a known example value".to_string());
    }
    // A repeated value implies few distinct bytes and low entropy; say only the cause.
    let structural = match smallest_period(v) {
        Some(1) => {
            out.push("is one character repeated".to_string());
            true
        }
        Some(p) if p <= 8 => {
            out.push(format!("is a {p}-byte pattern repeated"));
            true
        }
        _ => false,
    };
    if !structural {
        let distinct = v.iter().collect::<BTreeSet<_>>().len();
        if distinct < 10 {
            out.push(format!("has only {distinct} distinct bytes"));
        }
        let bits = shannon_entropy(v);
        if bits < 3.0 {
            out.push(format!("has low entropy ({bits:.1} bits per byte)"));
        }
        // A word or passphrase of lowercase letters: guessable, not generated.
        if v.iter().all(|b| b.is_ascii_lowercase() || matches!(b, b'-' | b'_' | b' ' | b'.'))
            && v.iter().any(u8::is_ascii_lowercase)
        {
            out.push("is only lowercase letters (a word or phrase)".to_string());
        }
    }
    let strength = estimate(v);
    if strength.bits < rules.min_bits {
        let mut why = format!(
            "carries about {:.0} bits, short of {:.0} ({} carries {} bits a character",
            strength.bits,
            rules.min_bits,
            strength.alphabet,
            format!("{:.1}", strength.bits_per_char).trim_end_matches(".0")
        );
        if strength.predictable > 0 {
            why.push_str(&format!(
                "; {} of its {} characters are {}, which carry almost none",
                strength.predictable,
                strength.examined,
                strength.kinds.join(", ")
            ));
        }
        why.push(')');
        out.push(why);
    }
    out
}

/// The shortest p such that the value is its first p bytes repeated (at least twice over).
fn smallest_period(v: &[u8]) -> Option<usize> {
    (1..=v.len() / 2).find(|&p| v.iter().enumerate().all(|(i, b)| *b == v[i % p]))
}

fn shannon_entropy(v: &[u8]) -> f64 {
    let mut counts = [0usize; 256];
    for b in v {
        counts[*b as usize] += 1;
    }
    let n = v.len() as f64;
    counts.iter().filter(|c| **c > 0).map(|c| *c as f64 / n).map(|p| -p * p.log2()).sum()
}

/// Name suffixes that point at a credential rather than hold one (`JWT_SECRET_FILE`), or
/// configure its handling (`TOKEN_TTL`); they would otherwise be the commonest false positives.
const NOT_CREDENTIAL_SUFFIXES: &[&str] = &["_FILE", "_PATH", "_TTL", "_EXPIRY", "_ENABLED"];

fn credential_name(pattern: &Regex, name: &str) -> bool {
    let normalized = name.to_ascii_uppercase().replace(['-', '.'], "_");
    pattern.is_match(name) && !NOT_CREDENTIAL_SUFFIXES.iter().any(|s| normalized.ends_with(s))
}

/// Whether a value under a credential-like name could be a credential. Paths, booleans and
/// plain numbers are settings, not credentials, so they do not count.
fn credential_value(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty()
        && !v.starts_with('/')
        && !v.eq_ignore_ascii_case("true")
        && !v.eq_ignore_ascii_case("false")
        && !is_plain_number(v)
}

fn is_plain_number(v: &str) -> bool {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
}

// ---- clickhouse_credentials_not_default

/// Each well-known default login was tried on a client of its own: accepted is a finding,
/// refused passes, anything else (network error, a proxy's page) leaves the item undecided.
pub fn clickhouse_credentials_not_default(ctx: &CheckCtx) -> CheckResult {
    use crate::snapshot::clickhouse::LoginResult;
    let ch = ctx.snapshot.clickhouse()?;
    let mut findings = Vec::new();
    let mut unknown = Vec::new();
    for p in &ch.default_logins {
        match &p.result {
            LoginResult::Accepted => findings.push(Finding::new(
                format!("ClickHouse login {}", p.user),
                format!("the server accepts user {} with the {}", p.user, p.password_desc),
            )),
            LoginResult::Rejected(_) => {}
            LoginResult::Unknown(why) => unknown.push(format!("{} ({}): {why}", p.user, p.password_desc)),
        }
    }
    if !findings.is_empty() {
        return Ok(Outcome::from_findings(findings, ""));
    }
    if ch.default_logins.is_empty() {
        return Err(Undecided::error("no default login was tried"));
    }
    if !unknown.is_empty() {
        return Err(Undecided::error(format!("could not try the default logins: {}", unknown.join("; "))));
    }
    let tried: Vec<String> =
        ch.default_logins.iter().map(|p| format!("{} with the {}", p.user, p.password_desc)).collect();
    Ok(Outcome::pass(format!("the server refuses {}", tried.join(" and "))))
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::fixtures::{finding_objects as objects, run_check as run, set_container};

    use crate::fixtures::{self, config_map, container, deployment, good_stack};
    use crate::outcome::Status;
    use crate::snapshot::SecretObject;

    const RULES: Rules = Rules { min_bytes: 32, min_bits: 256.0 };

    fn jwt_secret(value: &[u8]) -> SecretObject {
        fixtures::secret("infrasage-jwt", &[("secret", value)])
    }

    fn with_jwt(value: &[u8]) -> KubeSnapshot {
        let mut k = good_stack();
        k.secrets.retain(|s| s.name != "infrasage-jwt");
        k.secrets.push(jwt_secret(value));
        k
    }

    /// Fails, on the one shared Secret key, with a message containing `why`, and never shows the value.
    fn assert_weak(value: &str, why: &str) {
        let o = run("jwt_secret_strong", with_jwt(value.as_bytes()));
        assert_eq!(o.status, Status::Fail, "{value:?} should be weak");
        assert_eq!(objects(&o), ["Secret/infrasage/infrasage-jwt key secret"]);
        assert!(o.findings[0].message.contains(why), "{value:?}: {}", o.findings[0].message);
        assert!(!format!("{o:?}").contains(value), "the secret value leaked");
    }

    #[test]
    fn good_stack_passes_every_secrets_item() {
        for id in ["jwt_secret_strong", "secrets_not_in_configmaps", "anthropic_key_from_secret"] {
            let o = run(id, good_stack());
            assert_eq!(o.status, Status::Pass, "{id}: {o:?}");
            assert!(o.reason.is_some());
        }
    }

    #[test]
    fn jwt_generated_values_pass() {
        // hex and base64 of the same 32 random-looking bytes
        for v in [
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
        ] {
            let o = run("jwt_secret_strong", with_jwt(v.as_bytes()));
            assert_eq!(o.status, Status::Pass, "{o:?}");
            assert!(o.reason.unwrap().contains("Secret infrasage/infrasage-jwt key secret"));
        }
    }

    #[test]
    fn jwt_weak_values_fail_without_leaking() {
        assert_weak("k3J9v2Qx7LmP0aZt", "is 16 bytes (minimum 32)");
        assert_weak("your-256-bit-secret", "known example value");
        assert_weak("CHANGEME", "known example value");
        assert_weak("please-change-me-before-going-to-production-8c1f", "known example value");
        assert_weak(&"x".repeat(48), "one character repeated");
        assert_weak(&"Ab3$xY9!".repeat(5), "8-byte pattern repeated");
        assert_weak("correcthorsebatterystaplecorrectstaple", "only lowercase letters");
        assert_weak("aabbaabbccddccddaabbccddabcdabcddcba", "distinct bytes");
        assert_weak("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab0123456789", "low entropy");
        // Long enough in bytes, but 32 hex characters carry 128 bits, not 256.
        assert_weak(
            "5d41402abc4b2a76b9719d911017c592",
            "carries about 128 bits, short of 256 (hex carries 4 bits a character)",
        );
        assert_weak("Tr0ub4dor-Secret-Password-2024-Admin-Key!", "14 of its 41 characters are dictionary words");
    }

    #[test]
    fn jwt_secret_shared_by_all_workloads_is_judged_once() {
        let o = run("jwt_secret_strong", with_jwt(b"secret"));
        assert_eq!(o.findings.len(), 1, "{o:?}");
        assert!(o.findings[0].message.contains("is 6 bytes"));
        assert!(o.findings[0].message.contains("known example value"));
    }

    #[test]
    fn jwt_literal_and_config_map_values_are_findings_on_the_container() {
        let value = "hunter2hunter2";
        let mut k = good_stack();
        set_container(&mut k, "aiops-engine", container("aiops-engine").env("JWT_SECRET", value));
        set_container(&mut k, "ml-service", container("ml-service").env_config_map("JWT_SECRET", "ml-config", "jwt"));
        k.config_maps.push(config_map("ml-config", &[("jwt", value)]));
        let o = run("jwt_secret_strong", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            objects(&o),
            [
                "Deployment/infrasage/aiops-engine container aiops-engine",
                "Deployment/infrasage/ml-service container ml-service"
            ]
        );
        assert!(o.findings[0].message.contains("literal in the pod spec, not a Secret; the value is 14 bytes"));
        assert!(o.findings[1].message.contains("comes from ConfigMap ml-config key jwt"));
        assert!(o.findings[1].message.contains("is a 7-byte pattern repeated"));
        assert!(!format!("{o:?}").contains("hunter2"), "the secret value leaked");
    }

    #[test]
    fn jwt_missing_key_is_a_finding_on_the_secret() {
        let mut k = good_stack();
        k.secrets.retain(|s| s.name != "infrasage-jwt");
        k.secrets.push(fixtures::secret("infrasage-jwt", &[("other", b"x")]));
        let o = run("jwt_secret_strong", k);
        assert_eq!(objects(&o), ["Secret/infrasage/infrasage-jwt key secret"]);
        assert!(o.findings[0].message.contains("has no key secret"));
    }

    #[test]
    fn jwt_unreadable_secret_is_skipped() {
        let mut k = good_stack();
        k.secrets.clear();
        k.unreadable.insert("secrets".into(), "secrets is forbidden for the exporter's service account".into());
        let o = run("jwt_secret_strong", k);
        assert_eq!(o.status, Status::Skipped);
        let reason = o.reason.unwrap();
        assert!(reason.starts_with("cannot read Secret infrasage/infrasage-jwt: secrets is forbidden"), "{reason}");
    }

    #[test]
    fn jwt_secret_absent_from_manifests_is_skipped() {
        let mut k = good_stack();
        k.secrets.retain(|s| s.name != "infrasage-jwt");
        let o = run("jwt_secret_strong", k);
        assert_eq!(o.status, Status::Skipped);
        assert!(o.reason.unwrap().contains("cannot read Secret infrasage/infrasage-jwt: it is not in the snapshot"));
    }

    #[test]
    fn jwt_unreadable_secret_does_not_hide_other_findings() {
        let mut k = good_stack();
        k.secrets.clear();
        set_container(&mut k, "admin-ui", container("admin-ui").env("JWT_SECRET", "abc"));
        let o = run("jwt_secret_strong", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Deployment/infrasage/admin-ui container admin-ui"]);
    }

    #[test]
    fn jwt_not_set_anywhere_fails() {
        let mut k = good_stack();
        for name in ["ingestion-gateway", "aiops-engine", "ml-service", "admin-ui"] {
            set_container(&mut k, name, container(name));
        }
        let o = run("jwt_secret_strong", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings.len(), 1);
        assert!(o.findings[0].object.contains("Deployment/infrasage/ingestion-gateway"));
        assert_eq!(o.findings[0].message, "no InfraSage service workload sets JWT_SECRET");
    }

    #[test]
    fn jwt_possibly_set_by_unreadable_env_from_is_skipped() {
        let mut k = good_stack();
        for name in ["ingestion-gateway", "aiops-engine", "ml-service", "admin-ui"] {
            set_container(&mut k, name, container(name).env_from_secret("infrasage-env"));
        }
        let o = run("jwt_secret_strong", k);
        assert_eq!(o.status, Status::Skipped, "{o:?}");
        assert!(o.reason.unwrap().contains("through envFrom Secret infrasage-env"));
    }

    #[test]
    fn missing_service_component_names_its_selector() {
        let mut k = good_stack();
        k.deployments.retain(|d| d.metadata.name.as_deref() != Some("ml-service"));
        let o = run("jwt_secret_strong", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
        assert_eq!(
            o.findings[0].message,
            "no ML service workload found (selector app.kubernetes.io/name=ml-service or named ml-service)"
        );
    }

    #[test]
    fn credential_in_config_map_is_a_finding() {
        let mut k = good_stack();
        k.config_maps.push(config_map("db", &[("DB_PASSWORD", "Tr0ub4dor&3"), ("DB_HOST", "clickhouse")]));
        let o = run("secrets_not_in_configmaps", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["ConfigMap/infrasage/db key DB_PASSWORD"]);
        assert!(!format!("{o:?}").contains("Tr0ub4dor"), "the secret value leaked");
    }

    #[test]
    fn literal_credential_env_is_a_finding_on_the_container() {
        let mut k = good_stack();
        set_container(
            &mut k,
            "ingestion-gateway",
            container("ingestion-gateway").env("SLACK_TOKEN", "xoxb-1234-abcd").env("LOG_LEVEL", "info"),
        );
        let o = run("secrets_not_in_configmaps", k);
        assert_eq!(objects(&o), ["Deployment/infrasage/ingestion-gateway container ingestion-gateway"]);
        assert!(o.findings[0].message.contains("env SLACK_TOKEN"));
        assert!(!format!("{o:?}").contains("xoxb-1234"), "the secret value leaked");
    }

    #[test]
    fn settings_named_like_credentials_are_not_findings() {
        let mut k = good_stack();
        k.config_maps.push(config_map(
            "settings",
            &[
                ("JWT_SECRET_FILE", "jwt.key"),
                ("TOKEN_TTL", "1h"),
                ("api-key-enabled", "yes"),
                ("PASSWORD_MIN_LENGTH", "12"),
                ("SECRET_DIR", "/run/secrets"),
                ("REQUIRE_TOKEN", "TRUE"),
                ("ADMIN_PASSWORD", ""),
            ],
        ));
        set_container(&mut k, "admin-ui", container("admin-ui").env("SESSION_TOKEN_EXPIRY", "3600s"));
        let o = run("secrets_not_in_configmaps", k);
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    #[test]
    fn config_maps_and_workloads_out_of_scope_are_ignored() {
        let mut k = good_stack();
        let mut cm = config_map("db", &[("DB_PASSWORD", "Tr0ub4dor&3")]);
        cm.metadata.namespace = Some("other".into());
        k.config_maps.push(cm);
        k.deployments.push(
            deployment("elsewhere").namespace("other").container(container("x").env("API_KEY", "abc123xyz")).build(),
        );
        let o = run("secrets_not_in_configmaps", k);
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    #[test]
    fn anthropic_key_not_from_a_secret_is_a_finding() {
        let mut k = good_stack();
        set_container(&mut k, "aiops-engine", container("aiops-engine").env("ANTHROPIC_API_KEY", "sk-ant-api03-abc"));
        set_container(
            &mut k,
            "ml-service",
            container("ml-service").env_config_map("ANTHROPIC_API_KEY", "ml-config", "anthropic"),
        );
        let o = run("anthropic_key_from_secret", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            objects(&o),
            [
                "Deployment/infrasage/aiops-engine container aiops-engine",
                "Deployment/infrasage/ml-service container ml-service"
            ]
        );
        assert_eq!(o.findings[0].message, "ANTHROPIC_API_KEY is a literal in the pod spec, not a Secret");
        assert_eq!(
            o.findings[1].message,
            "ANTHROPIC_API_KEY comes from ConfigMap ml-config key anthropic, not a Secret"
        );
        assert!(!format!("{o:?}").contains("sk-ant-api03"), "the secret value leaked");
    }

    #[test]
    fn anthropic_key_in_env_from_config_map_is_a_finding() {
        let mut k = good_stack();
        k.config_maps.push(config_map("ml-env", &[("ANTHROPIC_API_KEY", "sk-ant-api03-abc")]));
        set_container(&mut k, "ml-service", container("ml-service").env_from_config_map("ml-env"));
        let o = run("anthropic_key_from_secret", k);
        assert_eq!(objects(&o), ["Deployment/infrasage/ml-service container ml-service"]);
        assert!(o.findings[0].message.contains("ConfigMap ml-env key ANTHROPIC_API_KEY"));
    }

    #[test]
    fn anthropic_key_set_nowhere_passes_saying_so() {
        let mut k = good_stack();
        for name in ["ingestion-gateway", "aiops-engine", "ml-service", "admin-ui"] {
            set_container(&mut k, name, container(name));
        }
        let o = run("anthropic_key_from_secret", k);
        assert_eq!(o.status, Status::Pass);
        assert_eq!(o.reason.unwrap(), "no container in scope sets ANTHROPIC_API_KEY");
    }

    #[test]
    fn weakness_rules() {
        assert!(weaknesses(b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n", &RULES).is_empty());
        assert_eq!(weaknesses(b"  ", &RULES), ["is empty"]);
        assert_eq!(smallest_period(b"abcabcab"), Some(3));
        assert_eq!(smallest_period(b"abcdab"), None);
        assert_eq!(smallest_period(b"abcabc"), Some(3));
        assert!(is_plain_number("-12.5") && !is_plain_number("1.2.3") && !is_plain_number("."));
    }

    // ---- clickhouse_credentials_not_default

    mod clickhouse_logins {
        use crate::fixtures::{clickhouse_only, clickhouse_snapshot, run_on_snapshot};
        use crate::outcome::Status;
        use crate::snapshot::clickhouse::LoginResult;

        fn with(results: [LoginResult; 2]) -> crate::outcome::Outcome {
            let mut ch = clickhouse_snapshot();
            for (p, r) in ch.default_logins.iter_mut().zip(results) {
                p.result = r;
            }
            run_on_snapshot("clickhouse_credentials_not_default", &clickhouse_only(ch), &[])
        }

        #[test]
        fn refused_logins_pass() {
            let o = with([LoginResult::Rejected("516".into()), LoginResult::Rejected("194".into())]);
            assert_eq!(o.status, Status::Pass, "{o:?}");
            assert_eq!(
                o.reason.as_deref(),
                Some("the server refuses clickhouse with the password clickhouse and default with the empty password")
            );
        }

        #[test]
        fn an_accepted_login_fails_naming_it() {
            let o = with([LoginResult::Rejected("516".into()), LoginResult::Accepted]);
            assert_eq!(o.status, Status::Fail);
            assert_eq!(o.findings.len(), 1);
            assert_eq!(o.findings[0].object, "ClickHouse login default");
            assert_eq!(o.findings[0].message, "the server accepts user default with the empty password");
            // A failure wins over an unknown: one accepted login is enough to know.
            let o = with([LoginResult::Unknown("timeout".into()), LoginResult::Accepted]);
            assert_eq!(o.status, Status::Fail);
        }

        #[test]
        fn a_network_error_is_never_a_pass() {
            let o = with([LoginResult::Rejected("516".into()), LoginResult::Unknown("network error: refused".into())]);
            assert_eq!(o.status, Status::Error);
            assert!(o.reason.unwrap().contains("default (empty password): network error: refused"));
        }

        #[test]
        fn without_the_source_it_is_skipped() {
            let o = run_on_snapshot("clickhouse_credentials_not_default", &Default::default(), &[]);
            assert_eq!(o.status, Status::Skipped);
        }
    }
}
