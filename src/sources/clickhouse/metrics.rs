//! ClickHouse families: disk capacity and free space per disk as `system.disks` reports them,
//! data volume (active parts bytes) overall and per database, and the server version. Usage
//! ratios are left to PromQL. Absent when the source has no data (or no `system.disks`).

use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, Opts, Registry};

use crate::snapshot::ClickhouseSnapshot;

/// Databases get their own series up to this many; the rest are summed as `(other)`, so a
/// server with thousands of databases cannot blow up the scrape.
const MAX_DATABASES: usize = 50;

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("metric definitions are valid");
    r.register(Box::new(g.clone())).expect("each family is registered once");
    g
}

pub fn families(ch: &ClickhouseSnapshot) -> Vec<MetricFamily> {
    let r = Registry::new();
    if let Some(disks) = &ch.disks {
        let total =
            gauge(&r, "infrasage_clickhouse_disk_total_bytes", "Size of a ClickHouse disk (system.disks).", &["disk"]);
        let free = gauge(
            &r,
            "infrasage_clickhouse_disk_free_bytes",
            "Free space on a ClickHouse disk (system.disks).",
            &["disk"],
        );
        for d in disks {
            total.with_label_values(&[&d.name]).set(d.total_bytes as f64);
            free.with_label_values(&[&d.name]).set(d.free_bytes as f64);
        }
    }
    gauge(&r, "infrasage_clickhouse_data_bytes", "Bytes on disk of active parts of every ClickHouse table.", &[])
        .with_label_values::<&str>(&[])
        .set(ch.data_bytes() as f64);
    let per_db = gauge(
        &r,
        "infrasage_clickhouse_database_data_bytes",
        "Bytes on disk of active parts per database (the largest 50; the rest as database=\"(other)\").",
        &["database"],
    );
    let mut dbs: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for p in &ch.parts {
        *dbs.entry(p.database.as_str()).or_default() += p.bytes;
    }
    let mut dbs: Vec<(&str, u64)> = dbs.into_iter().collect();
    dbs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let other: u64 = dbs.iter().skip(MAX_DATABASES).map(|(_, b)| b).sum();
    for (db, bytes) in dbs.iter().take(MAX_DATABASES) {
        per_db.with_label_values(&[db]).set(*bytes as f64);
    }
    if dbs.len() > MAX_DATABASES {
        per_db.with_label_values(&["(other)"]).set(other as f64);
    }
    gauge(&r, "infrasage_clickhouse_server_info", "Version of the ClickHouse server; always 1.", &["version"])
        .with_label_values(&[&ch.version])
        .set(1.0);
    r.gather()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::clickhouse::TableBytes;

    fn text(ch: &ClickhouseSnapshot) -> String {
        let mut buf = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &families(ch), &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn disks_data_and_version() {
        let t = text(&crate::fixtures::clickhouse_snapshot());
        assert!(t.contains("infrasage_clickhouse_disk_total_bytes{disk=\"default\"} 107374182400\n"), "{t}");
        assert!(t.contains("infrasage_clickhouse_disk_free_bytes{disk=\"default\"} 96636764160\n"));
        assert!(t.contains("infrasage_clickhouse_data_bytes 10737418240\n"));
        assert!(t.contains("infrasage_clickhouse_database_data_bytes{database=\"infrasage\"} 10737418240\n"));
        assert!(t.contains("infrasage_clickhouse_server_info{version=\"26.9.2.1\"} 1\n"));
    }

    #[test]
    fn no_system_disks_no_disk_series() {
        let mut ch = crate::fixtures::clickhouse_snapshot();
        ch.disks = None;
        let t = text(&ch);
        assert!(!t.contains("infrasage_clickhouse_disk_"), "{t}");
        assert!(t.contains("infrasage_clickhouse_data_bytes"));
    }

    #[test]
    fn databases_are_bounded() {
        let mut ch = crate::fixtures::clickhouse_snapshot();
        ch.parts =
            (0..60).map(|i| TableBytes { database: format!("db{i:02}"), table: "t".into(), bytes: 100 + i }).collect();
        let t = text(&ch);
        assert_eq!(t.matches("infrasage_clickhouse_database_data_bytes{").count(), 51);
        // The ten smallest (db00..db09: 100..109 bytes) are summed.
        assert!(t.contains("infrasage_clickhouse_database_data_bytes{database=\"(other)\"} 1045\n"), "{t}");
    }
}
