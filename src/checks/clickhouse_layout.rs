//! Where a ClickHouse server or Keeper in a pod keeps what it must not lose: the path the item
//! is configured with, else what the server's own config (mounted from a ConfigMap) says, else
//! the layout of the image it runs. Read from the pod spec only; a guess is named as one.

use k8s_openapi::api::core::v1::{Container, Volume};
use quick_xml::events::Event;

use crate::snapshot::kube_query::namespace_of;
use crate::snapshot::{KubeSnapshot, Workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Keeper,
}

impl Role {
    pub fn human(self) -> &'static str {
        match self {
            Role::Server => "ClickHouse data",
            Role::Keeper => "ClickHouse Keeper coordination data",
        }
    }
}

/// The directory holding a container's data and how that was learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    pub role: Role,
    pub path: String,
    pub known_from: String,
}

/// Keeper runs from its own image or as `clickhouse keeper` / `clickhouse-keeper`.
pub fn role_of(c: &Container) -> Role {
    let image = c.image.as_deref().unwrap_or("").to_ascii_lowercase();
    let runs_keeper = c
        .command
        .iter()
        .chain(c.args.iter())
        .flatten()
        .take(3)
        .any(|a| a == "keeper" || a.ends_with("clickhouse-keeper"));
    if image_name(&image).contains("keeper") || runs_keeper || c.name.to_ascii_lowercase().contains("keeper") {
        Role::Keeper
    } else {
        Role::Server
    }
}

/// The last path segment of an image reference, without tag or digest.
fn image_name(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last)
}

fn is_bitnami(image: &str) -> bool {
    image.to_ascii_lowercase().split('/').any(|seg| seg.starts_with("bitnami"))
}

/// The containers of a workload that run ClickHouse or Keeper: named or built as ClickHouse,
/// but not the backup agents, exporters and operators that carry the name too. Every main
/// container where none is, so a hand-named server is still judged.
pub fn server_containers<'a>(w: &Workload<'a>) -> Vec<&'a Container> {
    let helper = |s: &str| ["backup", "exporter", "operator", "metrics"].iter().any(|h| s.contains(h));
    let is_ch = |c: &&Container| {
        let name = c.name.to_ascii_lowercase();
        let image = image_name(&c.image.as_deref().unwrap_or("").to_ascii_lowercase()).to_string();
        (name.contains("clickhouse") || image.contains("clickhouse") || name.contains("keeper"))
            && !helper(&name)
            && !helper(&image)
    };
    let main: Vec<&Container> = w.pod_spec.map(|s| s.containers.iter().collect()).unwrap_or_default();
    let named: Vec<_> = main.iter().copied().filter(is_ch).collect();
    if named.is_empty() {
        main
    } else {
        named
    }
}

/// Where this container keeps its data. `configured` (the item's `data_path`) applies to servers.
pub fn data_dir(k: &KubeSnapshot, w: &Workload, c: &Container, configured: Option<&str>) -> DataDir {
    let role = role_of(c);
    let dir =
        |path: &str, known_from: String| DataDir { role, path: path.trim_end_matches('/').to_string(), known_from };
    if let (Role::Server, Some(p)) = (role, configured.filter(|p| !p.is_empty())) {
        return dir(p, "the item's data_path".to_string());
    }
    if let Some((path, from)) = configured_in_config_maps(k, w, c, role) {
        return dir(&path, from);
    }
    let image = c.image.as_deref().unwrap_or("");
    let (path, layout) = match (role, is_bitnami(image)) {
        (Role::Server, true) => ("/bitnami/clickhouse", "the Bitnami image's layout"),
        (Role::Server, false) => ("/var/lib/clickhouse", "the official image's layout"),
        (Role::Keeper, true) => ("/bitnami/clickhouse-keeper", "the Bitnami Keeper image's layout"),
        (Role::Keeper, false) => ("/var/lib/clickhouse", "the official Keeper image's layout"),
    };
    dir(path, layout.to_string())
}

/// The data path set by a config file the container mounts from a ConfigMap. ClickHouse
/// merges `config.d` files in name order, so the last file by name that sets it wins.
fn configured_in_config_maps(k: &KubeSnapshot, w: &Workload, c: &Container, role: Role) -> Option<(String, String)> {
    let volumes: &[Volume] = w.pod_spec.and_then(|s| s.volumes.as_deref()).unwrap_or(&[]);
    let mut found: Vec<(String, String, String)> = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let Some(v) = volumes.iter().find(|v| v.name == m.name) else { continue };
        let mut names: Vec<&str> = v.config_map.iter().map(|s| s.name.as_str()).collect();
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            names.extend(src.config_map.iter().map(|s| s.name.as_str()));
        }
        for name in names {
            let cm = k
                .config_maps
                .iter()
                .find(|cm| namespace_of(&cm.metadata) == w.namespace() && cm.metadata.name.as_deref() == Some(name));
            for (key, text) in cm.and_then(|cm| cm.data.as_ref()).into_iter().flatten() {
                if m.sub_path.as_deref().is_some_and(|s| !s.is_empty() && s != key) {
                    continue;
                }
                if let Some(path) = path_in_config(key, text, role) {
                    found.push((key.clone(), path, format!("{key} in ConfigMap {name}")));
                }
            }
        }
    }
    found.sort();
    found.pop().map(|(_, path, from)| (path, from))
}

/// The data path a ClickHouse config file sets: the root `<path>` of a server config, or
/// `keeper_server/storage_path` (else its log storage path) for Keeper. YAML configs are read
/// the same way.
pub fn path_in_config(file: &str, text: &str, role: Role) -> Option<String> {
    let lower = file.to_ascii_lowercase();
    let wanted: &[&[&str]] = match role {
        Role::Server => &[&["path"]],
        Role::Keeper => &[&["keeper_server", "storage_path"], &["keeper_server", "log_storage_path"]],
    };
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
        return wanted.iter().find_map(|keys| {
            keys.iter().try_fold(&doc, |v, k| v.get(*k)).and_then(|v| v.as_str()).map(str::to_string)
        });
    }
    if !lower.ends_with(".xml") {
        return None;
    }
    wanted.iter().find_map(|keys| xml_value(text, keys))
}

/// The text of the element at `keys` below the root element, or None.
fn xml_value(text: &str, keys: &[&str]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                stack.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                if stack.len() > 64 {
                    return None;
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) if stack.len() == keys.len() + 1 && stack[1..].iter().eq(keys.iter()) => {
                let value = t.decode().ok()?.trim().to_string();
                if !value.is_empty() {
                    return Some(value);
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_root_path_and_not_a_disk_path() {
        let xml = r#"<clickhouse>
            <storage_configuration><disks><cold><path>/cold/</path></cold></disks></storage_configuration>
            <path>/data/clickhouse/</path>
        </clickhouse>"#;
        assert_eq!(path_in_config("storage.xml", xml, Role::Server).as_deref(), Some("/data/clickhouse/"));
        assert_eq!(path_in_config("x.xml", "<yandex><tmp_path>/t</tmp_path></yandex>", Role::Server), None);
        assert_eq!(path_in_config("x.yaml", "path: /ch\n", Role::Server).as_deref(), Some("/ch"));
        assert_eq!(path_in_config("x.txt", "<clickhouse><path>/x</path></clickhouse>", Role::Server), None);
        assert_eq!(path_in_config("x.xml", "<clickhouse><path>/x</path", Role::Server), Some("/x".into()));
        assert_eq!(path_in_config("x.xml", "not xml <<<", Role::Server), None);
    }

    #[test]
    fn keeper_storage_is_read_as_keeper() {
        let xml = "<clickhouse><path>/srv</path><keeper_server><log_storage_path>/k/log</log_storage_path></keeper_server></clickhouse>";
        assert_eq!(path_in_config("keeper.xml", xml, Role::Keeper).as_deref(), Some("/k/log"));
        let yaml = "keeper_server:\n  storage_path: /var/lib/clickhouse-keeper\n";
        assert_eq!(path_in_config("k.yaml", yaml, Role::Keeper).as_deref(), Some("/var/lib/clickhouse-keeper"));
    }

    #[test]
    fn roles_and_image_names() {
        let c =
            |name: &str, image: &str| Container { name: name.into(), image: Some(image.into()), ..Default::default() };
        assert_eq!(role_of(&c("keeper", "clickhouse/clickhouse-keeper:24.8")), Role::Keeper);
        assert_eq!(role_of(&c("main", "docker.io/bitnami/clickhouse-keeper:25.3")), Role::Keeper);
        assert_eq!(role_of(&c("clickhouse", "docker.io/bitnami/clickhouse:25.3.2@sha256:ab")), Role::Server);
        assert!(is_bitnami("registry-1.docker.io/bitnamilegacy/clickhouse:24"));
        assert!(!is_bitnami("clickhouse/clickhouse-server:25.8"));
        assert_eq!(image_name("localhost:5000/ch/clickhouse-server:25"), "clickhouse-server");
    }
}
