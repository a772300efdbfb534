//! AccessLog (outbound and inbound): where a proxy writes one line per request, and how.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, at};
use crate::policy::merge::{Merge, Provenance};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Text,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogConf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<LogBackend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
}

/// Exactly one of stdout, file, tcp.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogBackend {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<Empty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileBackend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpBackend>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileBackend {
    #[serde(default)]
    pub path: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpBackend {
    /// `host:port`.
    #[serde(default)]
    pub address: String,
}

impl Merge for AccessLogConf {
    fn merge_from(&mut self, other: &Self, origin: &str, path: &str, provenance: &mut Provenance) {
        // The backend is one choice: replaced as a whole.
        if let Some(backend) = &other.backend {
            self.backend = Some(backend.clone());
            provenance.insert(format!("{path}.backend"), origin.to_string());
        }
        if let Some(format) = other.format {
            self.format = Some(format);
            provenance.insert(format!("{path}.format"), origin.to_string());
        }
    }
}

/// `host:port` with a port between 1 and 65535.
pub fn check_address(errors: &mut Errors, path: &str, address: &str) {
    let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && host.len() <= 253 && port.parse::<u16>().is_ok_and(|port| port > 0)
    });
    if !valid {
        errors.add(path, "must be host:port");
    }
}

impl super::Conf for AccessLogConf {
    const DIRECTIONS: super::Directions = super::Directions::Both;
    const KIND: crate::kind::Kind = crate::kind::Kind::AccessLog;

    fn policy(spec: &crate::kind::Spec) -> Option<&super::PolicySpec<Self>> {
        match spec {
            crate::kind::Spec::AccessLog(policy) => Some(policy),
            _ => None,
        }
    }

    fn check(&self, errors: &mut Errors, path: &str) {
        let backend_path = at(path, "backend");
        match &self.backend {
            None => errors.add(&backend_path, "is required"),
            Some(backend) => {
                check::one_of(
                    errors,
                    &backend_path,
                    &[
                        ("stdout", backend.stdout.is_some()),
                        ("file", backend.file.is_some()),
                        ("tcp", backend.tcp.is_some()),
                    ],
                );
                if let Some(file) = &backend.file {
                    let file_path = at(&at(&backend_path, "file"), "path");
                    if !file.path.starts_with('/') {
                        errors.add(&file_path, "must be an absolute path");
                    } else {
                        check::text(errors, &file_path, &file.path, 1024);
                    }
                }
                if let Some(tcp) = &backend.tcp {
                    check_address(
                        errors,
                        &at(&at(&backend_path, "tcp"), "address"),
                        &tcp.address,
                    );
                }
            }
        }
    }
}
