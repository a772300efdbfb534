//! The manifest envelope shared by files, the API and the CLI, and the strict decoder
//! that reports every unknown field by its path.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Errors, FieldError, ValidationErrors, at};
use crate::name::{MAX_LABELS, check_name, check_tags};
use crate::value_decoder::{Decoder, Findings};

pub const API_VERSION: &str = "weft.dev/v1alpha1";
/// Largest manifest text accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// Most documents in one multi-document body.
pub const MAX_DOCUMENTS: usize = 500;

/// `apiVersion`, `kind`, `metadata` and the kind-specific `spec`, still untyped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Value,
    /// Server-owned (connection state, rollout progress…); ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Server-owned; a client sends back the value it read to detect conflicting writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Server-owned, RFC 3339; ignored on input so a read manifest can be applied again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// Server-owned, RFC 3339; ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modification_time: Option<String>,
}

impl Metadata {
    /// Checks name and labels; `allow_reserved` admits `weft.dev/` labels set by Weft itself.
    pub fn check(&self, errors: &mut Errors, allow_reserved: bool) {
        check_name(errors, "metadata.name", &self.name);
        if let Some(mesh) = &self.mesh {
            check_name(errors, "metadata.mesh", mesh);
        }
        if self.labels.len() > MAX_LABELS {
            errors.add(
                "metadata.labels",
                format!("must have at most {MAX_LABELS} entries"),
            );
        } else {
            check_tags(
                errors,
                "metadata.labels",
                self.labels.iter(),
                allow_reserved,
            );
        }
        if let Some(version) = &self.resource_version
            && version.parse::<u64>().is_err()
        {
            errors.add(
                "metadata.resourceVersion",
                "must be a version string returned by the server",
            );
        }
    }
}

/// Splits a body into documents: a JSON object, a JSON array of objects, or YAML with `---`.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, ValidationErrors> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ValidationErrors::single("", "body is larger than 1 MiB"));
    }
    let trimmed = text.trim_start();
    let documents = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            Ok(other) => vec![other],
            Err(error) => {
                return Err(ValidationErrors::single(
                    "",
                    format!(
                        "invalid JSON at line {} column {}: {error}",
                        error.line(),
                        error.column()
                    ),
                ));
            }
        }
    } else {
        serde_saphyr::from_multiple::<Value>(text)
            .map_err(|error| ValidationErrors::single("", format!("invalid YAML: {error}")))?
    };
    if documents.is_empty() {
        return Err(ValidationErrors::single("", "no documents found"));
    }
    if documents.len() > MAX_DOCUMENTS {
        return Err(ValidationErrors::single(
            "",
            format!("more than {MAX_DOCUMENTS} documents"),
        ));
    }
    Ok(documents)
}

/// Decodes `value` into `T`, reporting every field `T` does not know and the first type error,
/// each with its full path under `prefix`.
pub fn decode<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, ValidationErrors> {
    match decode_lenient(value, prefix) {
        (Some(decoded), errors) if errors.is_empty() => Ok(decoded),
        (_, errors) => Err(ValidationErrors(errors)),
    }
}

/// Like [`decode`], but returns the value even when there were unknown fields, so the caller
/// can validate it too and report every problem at once. `None` only on a type error.
pub fn decode_lenient<T: DeserializeOwned>(
    value: Value,
    prefix: &str,
) -> (Option<T>, Vec<FieldError>) {
    let mut findings = Findings::default();
    let result = T::deserialize(Decoder {
        value,
        path: String::new(),
        findings: &mut findings,
    });
    let mut errors: Vec<FieldError> = findings
        .unknown
        .iter()
        .map(|path| FieldError {
            field: join(prefix, path),
            message: "unknown field".to_string(),
        })
        .collect();
    match result {
        Ok(decoded) => (Some(decoded), errors),
        Err(error) => {
            let path = findings.error_at.unwrap_or_default();
            errors.push(FieldError {
                field: join(prefix, &path),
                message: clean_serde_message(&error.to_string()),
            });
            (None, errors)
        }
    }
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => path.to_string(),
        (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
        (false, false) => at(prefix, path),
    }
}

/// serde's messages mention Rust types; keep them but drop the trailing position noise.
fn clean_serde_message(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        weight: i64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[test]
    fn reports_every_unknown_field_with_its_path() {
        let value =
            json!({"items": [{"weight": 1, "wieght": 2}, {"colour": "red"}], "extra": true});
        let errors = decode::<Outer>(value, "spec").unwrap_err();
        let mut fields = errors.fields();
        // Map order depends on serde_json's preserve_order feature; the set is what matters.
        fields.sort_unstable();
        assert_eq!(
            fields,
            vec!["spec.extra", "spec.items[0].wieght", "spec.items[1].colour"]
        );
    }

    #[test]
    fn reports_type_errors_with_their_path() {
        let errors = decode::<Outer>(json!({"items": [{}, {"weight": "x"}]}), "spec").unwrap_err();
        assert_eq!(errors.fields(), vec!["spec.items[1].weight"]);
    }

    #[test]
    fn splits_yaml_and_json_documents() {
        let yaml = "kind: Mesh\nmetadata: {name: a}\n---\nkind: Mesh\nmetadata: {name: b}\n";
        assert_eq!(parse_documents(yaml).unwrap().len(), 2);
        assert_eq!(
            parse_documents(r#"[{"kind":"Mesh"},{"kind":"Mesh"}]"#)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(parse_documents(r#"{"kind":"Mesh"}"#).unwrap().len(), 1);
        assert!(parse_documents("{").is_err());
        assert!(parse_documents("a: [").is_err());
        assert!(parse_documents("").is_err());
    }
}
