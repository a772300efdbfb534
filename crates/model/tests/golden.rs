//! Golden scenarios: a set of resources and one proxy, checked against a reviewed file of that
//! proxy's effective configuration and the policies that produced it.
//!
//! Each `golden/NN-name.yaml` holds resources (added to `golden/_base.yaml` unless its first
//! line is `# base: none`) and a `# proxy: <dataplane>` line. The expected output is
//! `golden/NN-name.json`. `WEFT_UPDATE_GOLDEN=1 cargo test -p weft-model --test golden`
//! rewrites the expected files; review the diff.

use std::path::{Path, PathBuf};

use serde_json::json;
use weft_model::effective::{MeshView, explain};
use weft_model::resource::{Author, parse_resources};

fn directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .take_while(|line| line.starts_with('#'))
        .find_map(|line| {
            line.strip_prefix('#')?
                .trim()
                .strip_prefix(key)?
                .strip_prefix(':')
                .map(str::trim)
        })
}

fn render(scenario: &Path) -> String {
    let text = std::fs::read_to_string(scenario).unwrap();
    let proxy = header(&text, "proxy")
        .unwrap_or_else(|| panic!("{} has no `# proxy:` line", scenario.display()));
    let mut body = String::new();
    if header(&text, "base") != Some("none") {
        body.push_str(&std::fs::read_to_string(directory().join("_base.yaml")).unwrap());
        body.push_str("---\n");
    }
    body.push_str(&text);
    let resources = parse_resources(&body, Author::Zone)
        .unwrap_or_else(|errors| panic!("{} is not valid: {errors:?}", scenario.display()));
    let view = MeshView::new("shop", resources.iter());
    let explanation = explain(&view, proxy)
        .unwrap_or_else(|| panic!("{}: no dataplane {proxy}", scenario.display()));
    let value = canonical(json!({"config": explanation.config, "policies": explanation.policies}));
    let mut out = serde_json::to_string_pretty(&value).unwrap();
    out.push('\n');
    out
}

/// Objects with sorted keys, whether or not serde_json preserves insertion order (a feature
/// another crate of the workspace may turn on).
fn canonical(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, canonical(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

#[test]
fn golden_scenarios() {
    let update = std::env::var("WEFT_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(directory())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|x| x == "yaml") && !path.ends_with("_base.yaml")
        })
        .collect();
    scenarios.sort();
    assert!(
        scenarios.len() >= 30,
        "only {} golden scenarios",
        scenarios.len()
    );
    let mut failures = Vec::new();
    for scenario in &scenarios {
        let actual = render(scenario);
        let expected_path = scenario.with_extension("json");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(_) => failures.push(format!(
                "{} differs from its golden file",
                scenario.display()
            )),
            Err(_) => failures.push(format!("{} has no golden file", scenario.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nrun `WEFT_UPDATE_GOLDEN=1 cargo test -p weft-model --test golden` and review the diff",
        failures.join("\n")
    );
}

#[test]
fn the_order_of_resources_does_not_matter() {
    for entry in std::fs::read_dir(directory()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "yaml") || path.ends_with("_base.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let proxy = header(&text, "proxy").unwrap();
        let mut body = std::fs::read_to_string(directory().join("_base.yaml")).unwrap();
        if header(&text, "base") == Some("none") {
            body.clear();
        } else {
            body.push_str("---\n");
        }
        body.push_str(&text);
        let mut resources = parse_resources(&body, Author::Zone).unwrap();
        let forward = explain(&MeshView::new("shop", resources.iter()), proxy).unwrap();
        resources.reverse();
        let backward = explain(&MeshView::new("shop", resources.iter()), proxy).unwrap();
        assert_eq!(forward, backward, "{}", path.display());
    }
}
