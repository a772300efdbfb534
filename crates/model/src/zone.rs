//! Zone: a zone control plane. It registers itself by connecting; global owns the resource.

use serde::{Deserialize, Serialize};

use crate::error::Errors;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneSpec {
    /// A disabled zone is refused when it connects. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl ZoneSpec {
    pub fn check(&self, _errors: &mut Errors, _path: &str) {}

    pub fn is_enabled(&self) -> bool {
        self.enabled != Some(false)
    }
}

impl crate::kind::KindSpec for ZoneSpec {
    fn check_spec(&self, errors: &mut crate::error::Errors, path: &str) {
        ZoneSpec::check(self, errors, path);
    }
}
