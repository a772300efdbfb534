//! A corpus of invalid manifests. Each `invalid/NNN-name.yaml` starts with `# expect: <field>`
//! lines and must be rejected with exactly those field paths; none may be accepted.

use std::collections::BTreeSet;
use std::path::Path;

use weft_model::resource::{Author, parse_resources};

#[test]
fn every_invalid_manifest_is_rejected_with_its_field_paths() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 60, "only {} invalid manifests", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected: BTreeSet<String> = text
            .lines()
            .filter_map(|line| {
                line.strip_prefix("# expect:")
                    .map(|field| field.trim().to_string())
            })
            .collect();
        assert!(
            !expected.is_empty(),
            "{} names no expected field",
            file.display()
        );
        match parse_resources(&text, Author::User) {
            Ok(_) => failures.push(format!("{}: accepted", file.display())),
            Err(errors) => {
                let actual: BTreeSet<String> =
                    errors.0.iter().map(|error| error.field.clone()).collect();
                if actual != expected {
                    failures.push(format!(
                        "{}: expected {expected:?}, got {:?}",
                        file.display(),
                        errors.0
                    ));
                }
                assert!(errors.0.iter().all(|error| !error.message.is_empty()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
