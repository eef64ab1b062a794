//! Property tests over the manifest loader: whatever the bytes, it returns (no panic), in
//! bounded time (the event parser is linear and depth-capped) and bounded memory (a document's
//! nodes are at most its characters plus the alias-expansion cap). The seeds that once failed,
//! or that we want replayed, are in proptest-regressions/loader_props.txt and run first.

use infrasage_readiness::snapshot::kubernetes::KubeScope;
use infrasage_readiness::sources::manifests::{yaml, Limits, Loader};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::Value;

const ALIAS_CAP: usize = 1_000_000;

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/loader_props.txt"))),
        ..Config::default()
    }
}

fn nodes(v: &Value) -> usize {
    let mut n = 0;
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        n += 1;
        match v {
            Value::Array(a) => todo.extend(a),
            Value::Object(m) => todo.extend(m.values()),
            _ => {}
        }
    }
    n
}

fn check(text: &str) {
    for d in yaml::documents(text, 100) {
        if let Ok(v) = d.value {
            assert!(nodes(&v) <= text.chars().count() + 1 + ALIAS_CAP, "a document grew beyond its text");
        }
    }
    let mut l = Loader::with_limits(KubeScope::default(), Limits { max_bytes: 1 << 20, max_depth: 100 });
    l.add_text("prop.yaml", text);
    let _ = l.finish();
}

const SEED: &str = include_str!("../examples/manifests/50-data.yaml");

/// Characters that matter to YAML's grammar, so mutations hit the parser's edges.
fn yaml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            ':', '-', ' ', '\n', '\t', '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', '\'', '"', '#', '%', '@', '`',
            '?', '<', '.', '~', '0', '7', 'x', '\u{feff}', '\r', '\\',
        ]),
        any::<char>(),
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), prop::collection::vec(yaml_char(), 1..8))
            .prop_map(|(i, s)| Edit::Insert(i, s.into_iter().collect())),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match e {
            Edit::Insert(i, s) => {
                let at = i % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Edit::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Edit::Duplicate(i, n) => {
                let at = i % len;
                let end = (at + n).min(chars.len());
                let piece: Vec<char> = chars[at.min(end)..end].to_vec();
                chars.splice(end..end, piece);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics(s in prop::collection::vec(yaml_char(), 0..400)) {
        check(&s.into_iter().collect::<String>());
    }

    #[test]
    fn mutated_manifests_never_panic(edits in prop::collection::vec(edit(), 1..12)) {
        check(&apply(SEED, &edits));
    }

    #[test]
    fn deep_or_aliased_shapes_stay_bounded(depth in 1usize..5000, open in prop::sample::select(vec!["[", "{a: ", "- ", "a:\n "]), fan in 1usize..12, levels in 1usize..10) {
        check(&open.repeat(depth));
        let mut t = String::from("a0: &a0 [x, y]\n");
        for i in 1..levels {
            let refs = vec![format!("*a{}", i - 1); fan].join(", ");
            t.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        check(&t);
    }
}
