//! The one redaction discipline. Text that reaches a reason, a warning or a log line is our own
//! words plus excerpts that went through [`excerpt`]: every secret the process knows (tokens,
//! passwords, SASL and Basic credentials, Secret and credential-like ConfigMap values) is
//! masked first, in its raw, base64 (at any alignment, standard and URL-safe), percent-encoded
//! and JSON-escaped forms, and only then is the text flattened and cut, so a cut can never
//! leave a prefix of a secret behind. Values from an answer body are never quoted: a
//! deserialisation error says the type and the path ([`serde_message`]).

use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// What a masked secret becomes.
pub const MASK: &str = "***";

/// Shorter values are not masked: masking `true` or `8080` everywhere would garble text while
/// protecting nothing worth the name.
pub const MIN_SECRET_LEN: usize = 4;

/// Bound on the forms kept, so a cluster with very many Secrets cannot grow this without end;
/// past it the oldest forms go first (they belong to the least recent reads).
const MAX_FORMS: usize = 50_000;

/// Default length of an excerpt of foreign text in a reason.
pub const EXCERPT_CHARS: usize = 200;

struct Registry {
    forms: Vec<String>,
    matcher: Option<Arc<AhoCorasick>>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry { forms: Vec::new(), matcher: None });

/// Makes `secret` known: from now on it is masked wherever [`scrub`] runs.
pub fn register(secret: &str) {
    register_bytes(secret.as_bytes());
}

/// As [`register`], for a value that may not be UTF-8 (Secret data).
pub fn register_bytes(secret: &[u8]) {
    let trimmed = trim_ascii(secret);
    let mut forms = encoded_forms(secret);
    if trimmed.len() != secret.len() {
        forms.extend(encoded_forms(trimmed));
    }
    add(forms);
}

/// A user and password sent as HTTP Basic: `base64(user:pass)` is a secret of its own.
pub fn register_basic(user: &str, password: &str) {
    if password.is_empty() {
        return;
    }
    register(password);
    add(encoded_forms(format!("{user}:{password}").as_bytes()));
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end]
}

/// The forms in which `secret` may appear in text: itself, percent-encoded, JSON-escaped,
/// and its base64 at each of the three alignments it can have inside a longer encoded string
/// (only the characters that depend on the secret alone, so any surrounding bytes match).
pub fn encoded_forms(secret: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if secret.len() < MIN_SECRET_LEN {
        return out;
    }
    if let Ok(s) = std::str::from_utf8(secret) {
        out.push(s.to_string());
        out.push(percent_encode(s));
        let json = serde_json::to_string(s).unwrap_or_default();
        out.push(json.trim_matches('"').to_string());
        out.push(format!("{s:?}").trim_matches('"').to_string());
    }
    out.push(STANDARD.encode(secret));
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for lead in 0..3usize {
            let mut buf = vec![0u8; lead];
            buf.extend_from_slice(secret);
            let enc = engine.encode(&buf);
            // Characters mixing bits of the unknown neighbours: 0, 2 or 3 at the start, one
            // at the end when the last group is partial.
            let skip = [0, 2, 3][lead];
            let cut = usize::from(buf.len() % 3 != 0);
            if enc.len() > skip + cut {
                out.push(enc[skip..enc.len() - cut].to_string());
            }
        }
    }
    out.retain(|f| f.len() >= MIN_SECRET_LEN);
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn add(forms: Vec<String>) {
    if forms.is_empty() {
        return;
    }
    let mut r = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    let before = r.forms.len();
    for f in forms {
        if !r.forms.contains(&f) {
            r.forms.push(f);
        }
    }
    if r.forms.len() == before {
        return;
    }
    if r.forms.len() > MAX_FORMS {
        let extra = r.forms.len() - MAX_FORMS;
        r.forms.drain(..extra);
    }
    r.matcher = None;
}

fn matcher() -> Option<Arc<AhoCorasick>> {
    if let Some(m) = &REGISTRY.read().unwrap_or_else(|p| p.into_inner()).matcher {
        return Some(Arc::clone(m));
    }
    let mut r = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    if r.forms.is_empty() {
        return None;
    }
    if r.matcher.is_none() {
        // Leftmost-longest: `base64(user:pass)` is masked whole, not around the password.
        let built = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&r.forms).ok()?;
        r.matcher = Some(Arc::new(built));
    }
    r.matcher.clone()
}

/// `text` with every known secret masked, nothing else changed.
pub fn scrub(text: &str) -> String {
    match matcher() {
        Some(m) if m.is_match(text) => m.replace_all(text, &vec![MASK; m.patterns_len()]),
        _ => text.to_string(),
    }
}

/// As [`scrub`], keeping `text`'s buffer when it holds no secret (a large text is not copied).
pub fn scrub_owned(text: String) -> String {
    match matcher() {
        Some(m) if m.is_match(&text) => m.replace_all(&text, &vec![MASK; m.patterns_len()]),
        _ => text,
    }
}

/// As [`scrub`], also masking `extra` (a secret the caller holds that may not be registered).
pub fn scrub_with(text: &str, extra: &[&str]) -> String {
    let mut out = scrub(text);
    for s in extra {
        let forms = encoded_forms(s.as_bytes());
        if forms.is_empty() {
            continue;
        }
        if let Ok(m) = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&forms) {
            out = m.replace_all(&out, &vec![MASK; forms.len()]);
        }
    }
    out
}

/// Foreign text (an answer body, a server's message) made fit for a reason: secrets masked
/// first, then control characters dropped, whitespace flattened to one line, and cut to
/// `max` characters.
pub fn excerpt(text: &str, max: usize) -> String {
    let clean = scrub(text);
    let flat: String =
        clean.split_whitespace().collect::<Vec<_>>().join(" ").chars().filter(|c| !c.is_control()).collect();
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

/// A serde error message with the values it quotes taken out: serde writes an unexpected value
/// as `string "…"`, `` integer `…` ``, `` unknown field `…` ``, and those values come from the
/// input, which may be a credential echoed back. What stays is the kind of value and what was
/// expected, in serde's own words.
pub fn serde_message(msg: &str) -> String {
    without_values(msg, false)
}

/// As [`serde_message`] for our own config's errors: the names serde quotes in backticks
/// (`` unknown field `tmeout`, expected one of `timeout`, … ``) are keys the user wrote or
/// ours, and say what to fix; values (strings, and the numbers serde puts in backticks) go.
pub fn serde_message_keeping_names(msg: &str) -> String {
    without_values(msg, true)
}

fn without_values(msg: &str, keep_names: bool) -> String {
    const VALUE_WORDS: [&str; 4] = ["integer ", "floating point ", "character ", "boolean "];
    let mut out = String::with_capacity(msg.len());
    let mut chars = msg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // A Debug-quoted string: skip to the closing quote, honouring escapes.
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("(value not shown)");
            }
            '`' => {
                let quoted: String = chars.by_ref().take_while(|d| *d != '`').collect();
                if keep_names && !VALUE_WORDS.iter().any(|w| out.ends_with(w)) {
                    out.push('`');
                    out.push_str(&quoted);
                    out.push('`');
                } else {
                    out.push_str("(value not shown)");
                }
            }
            _ => out.push(c),
        }
    }
    // `string (value not shown)` reads better as `a string`.
    let out = out
        .replace("string (value not shown)", "a string")
        .replace("integer (value not shown)", "an integer")
        .replace("floating point (value not shown)", "a number")
        .replace("character (value not shown)", "a character")
        .replace("boolean (value not shown)", "a boolean");
    excerpt(&out, EXCERPT_CHARS)
}

/// A JSON deserialisation failure as type and position, never the value: `serde_json`'s
/// message runs through [`serde_message`] and the path (when known) is named.
pub fn json_error(e: &serde_json::Error) -> String {
    serde_message(&e.to_string())
}

/// `serde_json::from_value` that says where it failed and never what it read.
pub fn from_json_value<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let msg = serde_message(&e.inner().to_string());
        if path == "." {
            msg
        } else {
            format!("{msg} at {path}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_leave_serde_messages() {
        let e = serde_json::from_str::<Vec<String>>(r#""Bearer tok\"en-123456""#).unwrap_err();
        let m = json_error(&e);
        assert!(!m.contains("Bearer") && !m.contains("123456"), "{m}");
        assert!(m.starts_with("invalid type: a string, expected a sequence"), "{m}");
        let e = serde_json::from_str::<Vec<String>>("[444777111222]").unwrap_err();
        let m = json_error(&e);
        assert!(m.contains("an integer") && !m.contains("444777"), "{m}");
    }

    #[test]
    fn config_messages_keep_key_names_but_not_values() {
        let m = serde_message_keeping_names("unknown field `tmeout`, expected one of `timeout`, `tls`");
        assert_eq!(m, "unknown field `tmeout`, expected one of `timeout`, `tls`");
        let m = serde_message_keeping_names("invalid type: string \"Bearer tok-99\", expected struct X");
        assert_eq!(m, "invalid type: a string, expected struct X");
        let m = serde_message_keeping_names("invalid type: integer `444777111222`, expected a string");
        assert_eq!(m, "invalid type: an integer, expected a string");
    }

    #[test]
    fn typed_errors_name_the_path() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Dash {
            title: String,
        }
        let v = serde_json::json!([{"title": "ok"}, {"title": ["Bearer zzzzzz"]}]);
        let e = from_json_value::<Vec<Dash>>(v).unwrap_err();
        assert!(
            e.contains("[1].title") && e.contains("invalid type: sequence, expected a string") && !e.contains("zzzzzz"),
            "{e}"
        );
    }

    #[test]
    fn secrets_go_before_the_cut() {
        register("PLANTCHPW-0123456789");
        let text = format!("{}\"x-clickhouse-key\": \"PLANTCHPW-0123456789\"", "a".repeat(190));
        let e = excerpt(&text, 200);
        assert!(!e.contains("PLANTC"), "{e}");
    }

    #[test]
    fn encoded_forms_are_masked_at_any_alignment() {
        register_basic("svc", "hunter2-basic-Pw");
        let basic = STANDARD.encode("svc:hunter2-basic-Pw");
        assert_eq!(scrub(&format!("Authorization: Basic {basic}")), "Authorization: Basic ***");
        for lead in ["", "x", "xy", "xyz"] {
            let enc = STANDARD.encode(format!("{lead}hunter2-basic-Pw!"));
            let s = scrub(&enc);
            // Nothing of the encoded secret survives beyond the neighbour-mixed edge characters.
            assert!(s.contains(MASK), "{lead:?}: {s}");
            assert!(s.len() <= MASK.len() + 8, "{lead:?}: {s}");
        }
        register("p@ss word/9!");
        assert_eq!(scrub("u=p%40ss%20word%2F9%21"), "u=***");
    }

    #[test]
    fn short_values_are_not_masked() {
        register("abc");
        assert_eq!(scrub("abcabc"), "abcabc");
    }

    #[test]
    fn excerpts_are_one_line_without_control_characters() {
        assert_eq!(excerpt("a\n\tb\u{1b}[31m c", 200), "a b[31m c");
        assert_eq!(excerpt(&"x".repeat(300), 10), format!("{}…", "x".repeat(10)));
    }
}
