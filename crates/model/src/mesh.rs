//! Mesh: an isolated mesh. Its settings grow with later features (mTLS, CA).

use serde::{Deserialize, Serialize};

use crate::error::Errors;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshSpec {}

impl MeshSpec {
    pub fn check(&self, _errors: &mut Errors, _path: &str) {}
}
