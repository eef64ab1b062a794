//! The command line as users and pipelines script against it: exit codes, every output format,
//! the committed catalogue docs.

mod support;

use infrasage_readiness::outcome::Status;
use infrasage_readiness::results::{GateVerdict, Report};
use support::{assert_snapshot, run, stderr, stdout};

#[test]
fn passing_stack_exits_0() {
    let o = run(&["check", "--manifests", "tests/data/passing"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("go-live gate: PASS"));
}

#[test]
fn failing_critical_items_exit_1() {
    let o = run(&["check", "--manifests", "examples/manifests"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("go-live gate: FAIL"));
}

#[test]
fn a_failing_warning_item_alone_does_not_fail_the_gate() {
    let o = run(&["check", "--manifests", "examples/manifests", "--only", "egress_restricted"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("FAIL    egress_restricted"));
}

#[test]
fn could_not_run_exits_2() {
    let o = run(&["check", "--manifests", "tests/data/does-not-exist"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "interval: sometimes\n").unwrap();
    let o = run(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("config key `interval`"), "{}", stderr(&o));

    let o = run(&["check", "--manifests", "examples/manifests", "--only", "no_such_item"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no_such_item"));
}

#[test]
fn config_check_validates() {
    let o = run(&["config-check", "--config", "examples/config.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "checks: { kafka_min_brokers: { params: { min_brokers: lots } } }\nkafka: { bootstrap: x }\n")
        .unwrap();
    let o = run(&["config-check", "--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("kafka.bootstrap"), "{}", stderr(&o));
}

#[test]
fn json_round_trips_and_matches_the_gate() {
    let o = run(&["check", "--manifests", "examples/manifests", "--output", "json"]);
    let text = stdout(&o);
    let report: Report = serde_json::from_str(&text).expect("the JSON parses into the public shape");
    assert_eq!(report.checks.len(), infrasage_readiness::catalogue::ITEMS.len());
    assert_eq!(report.summary.gate, GateVerdict::Fail);
    let again = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(again.trim(), text.trim(), "serialize(parse(x)) == x");
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in ["id", "category", "severity", "status", "title", "doc", "findings", "findings_total", "reason"] {
        assert!(raw["checks"][0].get(key).is_some(), "checks[] has {key}");
    }
    let egress = report.checks.iter().find(|c| c.id == "egress_restricted").unwrap();
    assert_eq!(egress.status, Status::Fail);
    assert!(egress.findings[0].object.starts_with("NetworkPolicy/infrasage/allow-all-egress"));
}

#[test]
fn junit_parses_as_xml_with_one_testcase_per_item() {
    use quick_xml::events::Event;
    let o = run(&["check", "--manifests", "examples/manifests", "--output", "junit"]);
    let xml = stdout(&o);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut suites) = (0, 0, 0);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testcase" => cases += 1,
                b"failure" => failures += 1,
                b"testsuite" => suites += 1,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let report: Report =
        serde_json::from_str(&stdout(&run(&["check", "--manifests", "examples/manifests", "--output", "json"])))
            .unwrap();
    assert_eq!(cases, infrasage_readiness::catalogue::ITEMS.len());
    assert_eq!(suites, 11);
    assert_eq!(failures, report.summary.fail);
}

#[test]
fn table_and_markdown_snapshots() {
    let table = stdout(&run(&["check", "--manifests", "examples/manifests"]));
    assert_snapshot("examples.table.txt", &table);
    let md = stdout(&run(&["check", "--manifests", "examples/manifests", "--output", "markdown"]));
    assert_snapshot("examples.markdown.md", &md);
}

#[test]
fn committed_catalogue_docs_match_the_code() {
    let md = stdout(&run(&["catalogue", "--output", "markdown"]));
    let committed = std::fs::read_to_string(support::repo("docs/checks.md")).unwrap();
    assert!(md == committed, "docs/checks.md drifted: run `cargo run -- catalogue --output markdown > docs/checks.md`");
    let json: serde_json::Value = serde_json::from_str(&stdout(&run(&["catalogue", "--output", "json"]))).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), infrasage_readiness::catalogue::ITEMS.len());
}

#[test]
fn manifests_from_stdin() {
    use std::io::Write;
    let mut child = support::bin()
        .args(["check", "--manifests", "-", "--only", "admin_ui_not_public", "--output", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let yaml = std::fs::read_to_string(support::repo("examples/manifests/40-admin-ui.yaml")).unwrap();
    child.stdin.take().unwrap().write_all(yaml.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let report: Report = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report.checks[0].findings[0].object, "Service/infrasage/admin-ui");
}

#[test]
fn secrets_never_reach_any_output() {
    // Values planted in the example manifests; none may be printed by any renderer.
    let planted = ["your-256-bit-secret", "sk-ant-api03-literal-in-the-spec", "sk-ant-example-not-a-real-key"];
    for output in ["table", "json", "junit", "markdown"] {
        let o = run(&["check", "--manifests", "examples/manifests", "--output", output]);
        for p in planted {
            assert!(!stdout(&o).contains(p) && !stderr(&o).contains(p), "{output} output leaks {p}");
        }
    }
}
