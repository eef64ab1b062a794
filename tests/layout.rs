//! The README's "Adding a source" stays true: outside its own files and its items, a source is
//! named only in the files that list every source (one row each).

use std::path::{Path, PathBuf};

/// The files that hold one row per source, as the README lists them.
const TABLES: &[&str] = &["src/sources/mod.rs", "src/snapshot/mod.rs", "src/catalogue.rs", "src/config/types.rs"];

struct Source {
    /// How code names it: the `SourceId` variant, its types, the config field.
    names: &'static [&'static str],
    /// Its own files (collector, config section, snapshot part).
    own: &'static [&'static str],
}

const SOURCES: &[Source] = &[
    Source {
        names: &["SourceId::Kafka", "KafkaSnapshot", "KafkaConfig", "SourceData::Kafka", "config.kafka", "c.kafka"],
        own: &["src/sources/kafka/", "src/snapshot/kafka.rs"],
    },
    Source {
        names: &[
            "SourceId::Clickhouse",
            "ClickhouseSnapshot",
            "ClickhouseConfig",
            "SourceData::Clickhouse",
            "config.clickhouse",
            "c.clickhouse",
        ],
        own: &["src/sources/clickhouse/", "src/snapshot/clickhouse.rs", "src/snapshot/clickhouse_storage.rs"],
    },
    Source {
        names: &["SourceId::Grafana", "GrafanaSnapshot", "SourceData::Grafana", "config.grafana", "c.grafana"],
        own: &["src/sources/http/", "src/snapshot/http.rs"],
    },
    Source {
        names: &[
            "SourceId::Prometheus",
            "PrometheusSnapshot",
            "SourceData::Prometheus",
            "config.prometheus",
            "c.prometheus",
        ],
        own: &["src/sources/http/", "src/snapshot/http.rs"],
    },
    Source {
        names: &["SourceId::Services", "ServicesSnapshot", "ServicesConfig", "config.services", "c.services"],
        own: &["src/sources/http/", "src/snapshot/http.rs"],
    },
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file without its tests: `#[cfg(test)]` modules sit at the end of a file here.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("#[cfg(test)]").next().unwrap_or_default().to_string()
}

#[test]
fn a_source_is_named_only_in_its_own_files_its_items_and_the_tables() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut stray = Vec::new();
    for source in SOURCES {
        for path in &files {
            let rel = path.strip_prefix(&root).unwrap().to_string_lossy().to_string();
            let exempt = source.own.iter().any(|own| rel.starts_with(own))
                || TABLES.contains(&rel.as_str())
                // Its items, and the test-only fixtures.
                || rel.starts_with("src/checks/")
                || rel == "src/fixtures.rs"
                || rel.ends_with("tests.rs");
            if exempt {
                continue;
            }
            let code = code_of(path);
            for name in source.names.iter().filter(|n| code.contains(**n)) {
                stray.push(format!("{rel} names {name}"));
            }
        }
    }
    assert!(stray.is_empty(), "outside the README's list for adding a source:\n{}", stray.join("\n"));
}

#[test]
fn the_readme_lists_those_tables() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("### Adding a source").nth(1).unwrap().split("### Adding an item").next().unwrap();
    for table in TABLES {
        assert!(section.contains(&format!("`{table}`")), "the README does not list {table}");
    }
}

/// Sources gather what the plan asks; they never name an item or read the checks.
#[test]
fn no_source_names_an_item_or_imports_the_checks() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/sources"), &mut files);
    let ids: Vec<&str> = infrasage_readiness::catalogue::ITEMS.iter().map(|i| i.id).collect();
    let mut stray = Vec::new();
    for path in &files {
        let code = code_of(path);
        let words: std::collections::HashSet<&str> =
            code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
        for id in ids.iter().filter(|id| words.contains(**id)) {
            stray.push(format!("{} names the item {id}", path.display()));
        }
        if code.contains("crate::checks") {
            stray.push(format!("{} imports the checks", path.display()));
        }
    }
    assert!(stray.is_empty(), "{}", stray.join("\n"));
}
