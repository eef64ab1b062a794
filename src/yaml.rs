//! YAML as `kubectl apply` reads it: the stream is cut into documents on `---` lines first
//! (as apimachinery's YAMLReader does, so one broken document cannot take the later ones with
//! it), then each document is parsed and its plain scalars resolved by YAML 1.1 rules as
//! go-yaml v2 resolves them (`0755` is 493, `yes`/`on` are booleans, `~` is null), merge keys
//! (`<<`) are applied, and the result is the JSON the API server would receive.
//!
//! Built on an event parser with an explicit stack: nesting is capped (no recursion, linear
//! time) and alias expansion is bounded, so hostile input costs bounded time and memory.

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

/// Bounds on one document, and the config key a reader would raise to lift the depth bound.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub max_depth: usize,
    /// Alias expansion beyond this many nodes per document is refused ("billion laughs").
    pub max_alias_nodes: usize,
    pub depth_key: &'static str,
}

impl Caps {
    /// The manifest loader's bounds, with the depth from `kubernetes.max_manifest_depth`.
    pub fn manifests(max_depth: usize) -> Caps {
        Caps { max_depth, max_alias_nodes: 1_000_000, depth_key: "kubernetes.max_manifest_depth" }
    }
}

/// One document of a stream: its 1-based index among the non-empty pieces between `---`
/// lines and the 1-based line where it starts.
pub struct Document {
    pub index: usize,
    pub line: usize,
    pub value: Result<Value, String>,
    /// What kubectl accepts silently but a reader should know (a duplicate mapping key).
    pub warnings: Vec<String>,
}

/// Splits `text` on `---` lines and parses each piece; every piece is parsed whatever
/// happened to the others.
pub fn documents(text: &str, max_depth: usize) -> Vec<Document> {
    documents_capped(text, Caps::manifests(max_depth))
}

/// As [`documents`], within `caps`.
pub fn documents_capped(text: &str, caps: Caps) -> Vec<Document> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (start_line, piece, bad_separator) in split(text) {
        let index = out.len() + 1;
        let mut warnings = Vec::new();
        let value = match bad_separator {
            Some(rest) => Err(format!("line {}: invalid document separator: {rest}", start_line - 1)),
            None => parse_one(piece, start_line, caps, &mut warnings),
        };
        out.push(Document { index, line: start_line, value, warnings });
    }
    out
}

/// Pieces between separator lines: (first line, text, trailing text of a separator that kubectl
/// refuses). A line is a separator when it starts with `---`; only spaces or a comment may
/// follow it. Empty pieces are dropped as kubectl drops them.
fn split(text: &str) -> Vec<(usize, &str, Option<String>)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut bad = None;
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if start < offset || bad.is_some() {
                pieces.push((start_line, &text[start..offset], bad.take()));
            }
            if !rest.is_empty() && !rest.starts_with('#') {
                bad = Some(rest.chars().take(40).collect());
            }
            start = offset + line.len();
            start_line = n + 2;
        }
        offset += line.len();
    }
    if start < text.len() || bad.is_some() {
        pieces.push((start_line, &text[start..], bad));
    }
    pieces
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    /// `explicit`: the keys written in this mapping (not merged in), for the duplicate check.
    Map {
        map: Map<String, Value>,
        key: Option<Key>,
        anchor: usize,
        explicit: std::collections::HashSet<String>,
    },
}

/// A mapping key waiting for its value; `<<` is the merge key.
enum Key {
    Plain(String, usize),
    Merge(usize),
}

struct Builder {
    stack: Vec<Frame>,
    /// Anchor id → (node, its node count).
    anchors: std::collections::HashMap<usize, (Value, usize)>,
    alias_nodes: usize,
    caps: Caps,
    warnings: Vec<String>,
}

/// Parses the first document of `piece` (go-yaml's Unmarshal reads only the first).
fn parse_one(piece: &str, first_line: usize, caps: Caps, warnings: &mut Vec<String>) -> Result<Value, String> {
    if let Some(line) = flow_depth_over(piece, caps.max_depth) {
        return Err(format!(
            "line {}: brackets nested deeper than {} levels ({})",
            first_line + line - 1,
            caps.max_depth,
            caps.depth_key
        ));
    }
    let mut parser = Parser::new_from_str(piece);
    let mut b = Builder { stack: Vec::new(), anchors: Default::default(), alias_nodes: 0, caps, warnings: Vec::new() };
    let mut root: Option<Value> = None;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| format!("line {}: {}", first_line + e.marker().line().saturating_sub(1), e.info()))?;
        let line = first_line + mark.line().saturating_sub(1);
        let done = match event {
            Event::StreamEnd | Event::DocumentEnd => true,
            Event::Nothing | Event::StreamStart | Event::DocumentStart => false,
            Event::Scalar(text, style, anchor, tag) => {
                let v = scalar(&text, style, tag.as_ref()).map_err(|e| format!("line {line}: {e}"))?;
                if anchor > 0 {
                    b.anchors.insert(anchor, (v.clone(), 1));
                }
                b.push(v, line, Some((&text, style)), &mut root)?
            }
            Event::Alias(id) => {
                let Some((v, nodes)) = b.anchors.get(&id) else {
                    return Err(format!("line {line}: unknown anchor"));
                };
                b.alias_nodes += nodes;
                if b.alias_nodes > b.caps.max_alias_nodes {
                    return Err(format!("line {line}: aliases expand to more than {} nodes", b.caps.max_alias_nodes));
                }
                let v = v.clone();
                b.push(v, line, None, &mut root)?
            }
            Event::SequenceStart(anchor, _) => {
                b.open(Frame::Seq { items: Vec::new(), anchor }, line)?;
                false
            }
            Event::MappingStart(anchor, _) => {
                b.open(Frame::Map { map: Map::new(), key: None, anchor, explicit: Default::default() }, line)?;
                false
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (v, anchor) = match b.stack.pop() {
                    Some(Frame::Seq { items, anchor }) => (Value::Array(items), anchor),
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    None => return Err(format!("line {line}: unbalanced collection")),
                };
                if anchor > 0 {
                    b.anchors.insert(anchor, (v.clone(), count_nodes(&v)));
                }
                b.push(v, line, None, &mut root)?
            }
        };
        if done || (root.is_some() && b.stack.is_empty()) {
            break;
        }
    }
    warnings.append(&mut b.warnings);
    Ok(root.unwrap_or(Value::Null))
}

/// The line where `[`/`{` nesting first exceeds `max`, counting every bracket (even in strings:
/// a rough over-count). The scanner reads a whole flow collection ahead before its first
/// token, checking every open level at each step, so deep brackets must be refused before it
/// starts, or 100,000 of them would take quadratic time.
fn flow_depth_over(piece: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    for b in piece.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => line += 1,
            _ => {}
        }
    }
    None
}

impl Builder {
    fn open(&mut self, frame: Frame, line: usize) -> Result<(), String> {
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(format!("line {line}: a mapping or sequence as a mapping key is not supported"));
        }
        if self.stack.len() >= self.caps.max_depth {
            return Err(format!(
                "line {line}: nested deeper than {} levels ({})",
                self.caps.max_depth, self.caps.depth_key
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Places a finished node; returns true when it was the document's root.
    fn push(
        &mut self,
        v: Value,
        line: usize,
        raw: Option<(&str, TScalarStyle)>,
        root: &mut Option<Value>,
    ) -> Result<bool, String> {
        match self.stack.last_mut() {
            None => {
                *root = Some(v);
                Ok(true)
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(v);
                Ok(false)
            }
            Some(Frame::Map { map, key, explicit, .. }) => {
                match key.take() {
                    None => {
                        *key = Some(match raw {
                            Some(("<<", TScalarStyle::Plain)) => Key::Merge(line),
                            _ => Key::Plain(key_string(&v).map_err(|e| format!("line {line}: {e}"))?, line),
                        });
                    }
                    Some(Key::Plain(k, key_line)) => {
                        if !explicit.insert(k.clone()) {
                            // kubectl (go-yaml v2 into a map) keeps the later value without a word.
                            self.warnings.push(format!(
                                "line {key_line}: mapping key {k:?} given twice: the later value is used, as kubectl does"
                            ));
                        }
                        map.insert(k, v);
                    }
                    Some(Key::Merge(key_line)) => merge(map, v).map_err(|e| format!("line {key_line}: {e}"))?,
                }
                Ok(false)
            }
        }
    }
}

/// `<<: map` or `<<: [map, ...]` as go-yaml v2 applies it, in place: the merged keys replace
/// those written before the `<<` (keys written after it replace them in turn); among the
/// listed maps the earlier wins.
fn merge(into: &mut Map<String, Value>, v: Value) -> Result<(), String> {
    let maps = match v {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                _ => Err("map merge requires map or sequence of maps as the value".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("map merge requires map or sequence of maps as the value".to_string()),
    };
    for m in maps.into_iter().rev() {
        for (k, v) in m {
            into.insert(k, v);
        }
    }
    Ok(())
}

fn count_nodes(v: &Value) -> usize {
    let mut n = 0;
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        n += 1;
        match v {
            Value::Array(a) => todo.extend(a.iter()),
            Value::Object(m) => todo.extend(m.values()),
            _ => {}
        }
    }
    n
}

/// A mapping key as sigs.k8s.io/yaml turns it into a JSON object key.
fn key_string(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        // sigs.k8s.io/yaml refuses a null key and a collection as a key.
        _ => return Err("unsupported map key (null or a collection)".to_string()),
    })
}

/// One scalar: quoted and block scalars are strings; plain ones resolve by YAML 1.1 unless a
/// standard tag says otherwise.
fn scalar(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let standard = tag.filter(|t| t.handle == "tag:yaml.org,2002:").map(|t| t.suffix.as_str());
    match standard {
        Some("str" | "binary") => return Ok(Value::String(text.to_string())),
        Some(want @ ("int" | "float" | "bool" | "null")) => {
            if is_inf_or_nan(text) {
                return Err(format!("unsupported value {text:?} (not a JSON number)"));
            }
            let v = resolve(text);
            let ok = match (want, &v) {
                ("int", Value::Number(n)) => !n.is_f64(),
                ("float", Value::Number(n)) => return Ok(Value::Number(n.clone())),
                ("bool", Value::Bool(_)) | ("null", Value::Null) => true,
                _ => false,
            };
            return if ok {
                Ok(v)
            } else {
                Err(format!("cannot decode the value (not shown; it may be a credential) as a !!{want}"))
            };
        }
        _ => {}
    }
    if style != TScalarStyle::Plain || tag.is_some() {
        return Ok(Value::String(text.to_string()));
    }
    if is_inf_or_nan(text) {
        // go-yaml reads a float that encoding/json then refuses to write.
        return Err(format!("unsupported value {text:?} (not a JSON number)"));
    }
    Ok(resolve(text))
}

fn is_inf_or_nan(s: &str) -> bool {
    matches!(
        s,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
    )
}

/// go-yaml v2's resolution of a plain scalar.
fn resolve(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        return s.parse::<f64>().ok().filter(|_| is_yaml_float(s)).map(float).unwrap_or_else(|| text(s));
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return text(s);
    }
    // A timestamp-looking value decodes to a string when the target is untyped.
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Value::Number(i.into());
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Value::Number(u.into());
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return float(f);
        }
    }
    let (neg, digits) = match plain.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, plain.as_str()),
    };
    if let Some(bin) = digits.strip_prefix("0b") {
        if let Ok(i) = i64::from_str_radix(bin, 2) {
            return Value::Number(if neg { -i } else { i }.into());
        }
    }
    text(s)
}

fn text(s: &str) -> Value {
    Value::String(s.to_string())
}

/// A float as Go's encoding/json writes it: integral values below 1e21 print without a
/// fraction, so the API server reads them as integers.
fn float(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f <= i64::MAX as f64 {
            return Value::Number((f as i64).into());
        }
        if f >= 0.0 && f <= u64::MAX as f64 {
            return Value::Number((f as u64).into());
        }
    }
    Number::from_f64(f).map(Value::Number).unwrap_or(Value::Number(Number::from_f64(0.0).expect("finite")))
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)`: a sign, then `0x`/`0o`/`0b` or a leading `0` for octal.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(rest)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn go_parse_uint(s: &str) -> Option<u64> {
    let (radix, digits) = if let Some(d) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, d)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Result<Value, String> {
        let mut d = documents(text, 100);
        assert_eq!(d.len(), 1, "one document");
        d.remove(0).value
    }

    #[test]
    fn yaml_1_1_scalars_resolve_as_go_yaml_v2() {
        let v = one(
            "a: 0755\nb: 0x1F\nc: yes\nd: off\ne: ~\nf: '0755'\ng: 1_000\nh: 1e3\ni: 08\nj: 0b101\nk: 2001-12-14\nl: .5\nm: -0755\nnn: !!str 12\no: +12\np: 1.50\nq: 12:30\nr: 0o17\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": 493, "b": 31, "c": true, "d": false, "e": null, "f": "0755", "g": 1000, "h": 1000,
                   "i": 8, "j": 5, "k": "2001-12-14", "l": 0.5, "m": -493, "nn": "12", "o": 12, "p": 1.5,
                   "q": "12:30", "r": 15})
        );
    }

    #[test]
    fn merge_keys_single_and_list() {
        let v = one("base: &b { x: 1, w: 2 }\nother: &o { w: 3, z: 4 }\nm:\n  <<: [*b, *o]\n  x: 9\n").unwrap();
        assert_eq!(v["m"], json!({"x": 9, "w": 2, "z": 4}));
    }

    #[test]
    fn duplicate_keys_keep_the_later_value_with_a_warning_naming_the_line() {
        let d = documents("a: 1\nb:\n  c: 1\n  c: 2\n", 100);
        assert_eq!(d[0].value.as_ref().unwrap()["b"], json!({"c": 2}));
        assert!(d[0].warnings[0].starts_with("line 4:") && d[0].warnings[0].contains("\"c\""), "{:?}", d[0].warnings);
    }

    #[test]
    fn a_merge_replaces_the_keys_written_before_it() {
        let v = one("l: &l { a: x }\nm:\n  a: own\n  b: own\n  <<: *l\n  b: after\n").unwrap();
        assert_eq!(v["m"], json!({"a": "x", "b": "after"}));
    }

    #[test]
    fn a_broken_document_leaves_the_others() {
        let d = documents("\u{feff}a: [1\n---\nb: 2\n--- # c\nc: 3\n---\n", 100);
        assert_eq!(d.len(), 3);
        assert!(d[0].value.as_ref().unwrap_err().starts_with("line "), "{:?}", d[0].value);
        assert_eq!(d[1].value.as_ref().unwrap(), &json!({"b": 2}));
        assert_eq!((d[2].index, d[2].line), (3, 5));
    }

    #[test]
    fn deep_nesting_is_refused_quickly() {
        let deep = "[".repeat(100_000);
        let t = std::time::Instant::now();
        let e = one(&deep).unwrap_err();
        assert!(e.contains("nested deeper than 100"), "{e}");
        let e = one(&"- ".repeat(100_000)).unwrap_err();
        assert!(e.contains("nested deeper than 100"), "{e}");
        assert!(t.elapsed().as_secs() < 5);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut t = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 { "a".to_string() } else { format!("a{}", i - 1) };
            t.push_str(&format!("a{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(one(&t).unwrap_err().contains("aliases expand"));
    }
}
