//! A Rollout's status and its decision history as the API shows them.

use serde::{Deserialize, Serialize};
use weft_model::canary::{Decision, RolloutState};

/// One entry of the history: when, for which generation of the Rollout, and the decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: String,
    /// RFC 3339.
    pub at: String,
    /// The Rollout's resourceVersion the decision belongs to.
    pub generation: String,
    #[serde(flatten)]
    pub decision: Decision,
}

/// A Rollout's `status`, and the answer of its actions: where it stands and the newest
/// decisions (`historyContinue` pages on through `…/history`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    #[serde(flatten)]
    pub state: RolloutState,
    pub history: Vec<HistoryEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_continue: Option<String>,
}

/// `GET /api/v1/meshes/{mesh}/rollouts/{name}/history`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub items: Vec<HistoryEntry>,
    /// Where the next (older) page starts (send it back as `continue`); absent on the last page.
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

/// The canary's traffic right now (the last few seconds, from every zone), for live charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSample {
    /// Unix milliseconds.
    pub at: i64,
    pub window_seconds: u64,
    pub requests_per_second: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_millis: Option<f64>,
}

/// One event of `GET …/rollouts/{name}/stream` (`event: rollout`), once a second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutFrame {
    pub status: RolloutStatus,
    pub live: LiveSample,
}
