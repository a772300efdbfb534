//! What the rollout controller decides, as pure functions: the state of a rollout, one tick of
//! the controller (start, judge the gates on measured traffic, move a step, roll back), the
//! user's actions (pause, resume, promote, abort) and the TrafficRoute that carries the
//! weights. weft-global stores the state, measures traffic and writes the route; nothing here
//! does IO or reads a clock.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::rollout::{OnNoTraffic, RolloutSpec};

/// Label on the TrafficRoute a rollout owns, naming the rollout.
pub const ROLLOUT_LABEL: &str = "weft.dev/rollout";

/// Defaults of the optional fields of a Rollout.
pub const DEFAULT_MIN_REQUESTS: u64 = 1;
pub const DEFAULT_MAX_FAILED_CHECKS: u32 = 2;

/// The traffic window holds this much; longer intervals are judged on its last part.
pub const MAX_MEASURED_SECONDS: u64 = 600; // within the 900 s weft-global keeps

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Not started: all traffic on stable.
    #[default]
    Pending,
    /// At `step`, waiting for the interval to end before the next check.
    Progressing,
    /// Stopped by a user; resume continues at the same step.
    Paused,
    /// The last check saw fewer requests than `gates.minRequests` (`onNoTraffic: Hold`).
    WaitingForTraffic,
    /// Failed checks reached `maxFailedChecks`: all traffic goes back to stable.
    RollingBack,
    /// Back on stable by itself; `reason` says why.
    RolledBack,
    /// All traffic on the canary.
    Promoted,
    /// Back on stable because a user said so.
    Aborted,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Progressing => "Progressing",
            Phase::Paused => "Paused",
            Phase::WaitingForTraffic => "WaitingForTraffic",
            Phase::RollingBack => "RollingBack",
            Phase::RolledBack => "RolledBack",
            Phase::Promoted => "Promoted",
            Phase::Aborted => "Aborted",
        }
    }

    /// Nothing moves any more (a changed spec starts a new rollout).
    pub fn is_final(self) -> bool {
        matches!(self, Phase::RolledBack | Phase::Promoted | Phase::Aborted)
    }
}

/// Where a rollout stands; stored by weft-global and shown as the Rollout's status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    pub phase: Phase,
    /// Index into `spec.steps` of the current step.
    pub step: usize,
    /// Percent of the service's traffic sent to the canary now.
    pub canary_weight: u32,
    /// Failed checks in a row.
    pub failed_checks: u32,
    /// Unix milliseconds when the current interval began (step reached, last check, resume).
    pub since_millis: i64,
    /// The Rollout's resourceVersion this state follows; another one starts over.
    pub generation: u64,
    /// Who paused it and when (unix milliseconds), while paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at_millis: Option<i64>,
    /// The phase a pause interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_from: Option<Phase>,
    /// Why it is where it is, in words (a rollback's cause, who aborted, the traffic seen).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl RolloutState {
    /// A rollout that has not started, following `generation`.
    pub fn new(generation: u64, now_millis: i64) -> RolloutState {
        RolloutState {
            generation,
            since_millis: now_millis,
            ..RolloutState::default()
        }
    }
}

/// The canary's traffic over one interval, from every zone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub requests: u64,
    /// Answers that were not failures (5xx or gRPC errors), in percent; `None` without requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_millis: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Passed,
    Failed,
    NoTraffic,
}

/// One judgement of the gates: what was measured, against what, and the verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub measured: Measurement,
    /// The seconds of traffic judged.
    pub window_seconds: u64,
    pub min_requests: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate_gate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_gate_millis: Option<f64>,
    pub verdict: Verdict,
    /// Each gate that failed, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// One entry of a rollout's history: a check, a weight change or a change of phase, who or
/// what made it, and what came out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// `controller`, or the user who acted.
    pub by: String,
    pub phase: Phase,
    pub step: usize,
    /// The canary's weight before and after (equal when it did not change).
    pub weight_before: u32,
    pub weight_after: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    pub message: String,
}

pub const CONTROLLER: &str = "controller";

fn interval_millis(spec: &RolloutSpec) -> i64 {
    spec.interval
        .as_ref()
        .and_then(|interval| interval.get())
        .map_or(30_000, |interval| {
            i64::try_from(interval.as_std().as_millis()).unwrap_or(i64::MAX)
        })
}

fn step_weight(spec: &RolloutSpec, step: usize) -> u32 {
    spec.steps
        .get(step)
        .and_then(|weight| u32::try_from(*weight).ok())
        .unwrap_or(100)
        .min(100)
}

fn last_step(spec: &RolloutSpec) -> usize {
    spec.steps.len().saturating_sub(1)
}

/// The seconds of traffic a check judges: the interval, at most what the window keeps.
pub fn measured_seconds(spec: &RolloutSpec) -> u64 {
    (u64::try_from(interval_millis(spec)).unwrap_or(0) / 1000).clamp(1, MAX_MEASURED_SECONDS)
}

/// Judges `measured` against the rollout's gates.
pub fn judge(spec: &RolloutSpec, measured: Measurement) -> Check {
    let gates = spec.gates.clone().unwrap_or_default();
    let min_requests = gates
        .min_requests
        .and_then(|count| u64::try_from(count).ok())
        .unwrap_or(DEFAULT_MIN_REQUESTS)
        .max(1);
    let p99_gate_millis = gates
        .p99
        .as_ref()
        .and_then(|p99| p99.get())
        .map(|p99| p99.as_std().as_secs_f64() * 1000.0);
    let mut failures = Vec::new();
    let verdict = if measured.requests < min_requests {
        Verdict::NoTraffic
    } else {
        if let (Some(gate), Some(rate)) = (gates.success_rate, measured.success_rate)
            && rate < gate
        {
            failures.push(format!("success rate {rate:.1} % < {gate} %"));
        }
        if let (Some(gate), Some(p99)) = (p99_gate_millis, measured.p99_millis)
            && p99 > gate
        {
            failures.push(format!("p99 {p99:.0} ms > {gate:.0} ms"));
        }
        if failures.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed
        }
    };
    Check {
        measured,
        window_seconds: measured_seconds(spec),
        min_requests,
        success_rate_gate: gates.success_rate,
        p99_gate_millis,
        verdict,
        failures,
    }
}

/// Builds a decision from the state before and after.
fn decision(
    before: &RolloutState,
    after: &RolloutState,
    by: &str,
    check: Option<Check>,
    message: String,
) -> Decision {
    Decision {
        by: by.to_string(),
        phase: after.phase,
        step: after.step,
        weight_before: before.canary_weight,
        weight_after: after.canary_weight,
        check,
        message,
    }
}

/// One tick of the controller at `now_millis`. `measure(seconds)` reads the canary's traffic
/// over the last `seconds`; it is called only when a check is due. `None`: nothing to do.
pub fn tick(
    spec: &RolloutSpec,
    state: &RolloutState,
    now_millis: i64,
    measure: impl FnOnce(u64) -> Measurement,
) -> Option<(RolloutState, Decision)> {
    let mut next = state.clone();
    match state.phase {
        Phase::Pending => {
            next.phase = Phase::Progressing;
            next.step = 0;
            next.canary_weight = step_weight(spec, 0);
            next.since_millis = now_millis;
            let message = format!("started: {} % to the canary", next.canary_weight);
            Some((
                next.clone(),
                decision(state, &next, CONTROLLER, None, message),
            ))
        }
        Phase::Progressing | Phase::WaitingForTraffic => {
            if now_millis.saturating_sub(state.since_millis) < interval_millis(spec) {
                return None;
            }
            let check = judge(spec, measure(measured_seconds(spec)));
            next.since_millis = now_millis;
            let on_no_traffic = spec.on_no_traffic.unwrap_or(OnNoTraffic::Hold);
            let failed = match check.verdict {
                Verdict::Passed => false,
                Verdict::NoTraffic if on_no_traffic == OnNoTraffic::Hold => {
                    next.phase = Phase::WaitingForTraffic;
                    next.reason = format!(
                        "{} canary requests in the last {} s, {} needed",
                        check.measured.requests, check.window_seconds, check.min_requests
                    );
                    let message = format!("holding at {} %: {}", next.canary_weight, next.reason);
                    return Some((
                        next.clone(),
                        decision(state, &next, CONTROLLER, Some(check), message),
                    ));
                }
                Verdict::NoTraffic | Verdict::Failed => true,
            };
            if !failed {
                next.failed_checks = 0;
                next.reason.clear();
                let message = if state.step >= last_step(spec) {
                    next.phase = Phase::Promoted;
                    next.canary_weight = 100;
                    "gates passed at the last step: promoted".to_string()
                } else {
                    next.phase = Phase::Progressing;
                    next.step = state.step + 1;
                    next.canary_weight = step_weight(spec, next.step);
                    format!(
                        "gates passed: {} % → {} %",
                        state.canary_weight, next.canary_weight
                    )
                };
                return Some((
                    next.clone(),
                    decision(state, &next, CONTROLLER, Some(check), message),
                ));
            }
            next.failed_checks = state.failed_checks.saturating_add(1);
            let limit = spec
                .max_failed_checks
                .and_then(|count| u32::try_from(count).ok())
                .unwrap_or(DEFAULT_MAX_FAILED_CHECKS)
                .max(1);
            let cause = if check.failures.is_empty() {
                format!(
                    "{} canary requests, {} needed (onNoTraffic: Fail)",
                    check.measured.requests, check.min_requests
                )
            } else {
                check.failures.join(", ")
            };
            if next.failed_checks >= limit {
                next.phase = Phase::RollingBack;
                next.canary_weight = 0;
                next.reason = format!(
                    "{} failed checks in a row; last: {cause}",
                    next.failed_checks
                );
                let message = format!("rolling back to stable: {}", next.reason);
                return Some((
                    next.clone(),
                    decision(state, &next, CONTROLLER, Some(check), message),
                ));
            }
            next.phase = Phase::Progressing;
            next.reason = format!("failed check {} of {limit}: {cause}", next.failed_checks);
            let message = format!("holding at {} %: {}", next.canary_weight, next.reason);
            Some((
                next.clone(),
                decision(state, &next, CONTROLLER, Some(check), message),
            ))
        }
        Phase::RollingBack => {
            next.phase = Phase::RolledBack;
            let message = format!("rolled back: all traffic on stable ({})", state.reason);
            Some((
                next.clone(),
                decision(state, &next, CONTROLLER, None, message),
            ))
        }
        Phase::Paused | Phase::RolledBack | Phase::Promoted | Phase::Aborted => None,
    }
}

/// What a user may do to a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Promote,
    Abort,
}

impl Action {
    pub fn parse(text: &str) -> Option<Action> {
        Some(match text {
            "pause" => Action::Pause,
            "resume" => Action::Resume,
            "promote" => Action::Promote,
            "abort" => Action::Abort,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Promote => "promote",
            Action::Abort => "abort",
        }
    }
}

/// Applies `action` by `user` at `now_millis`; `Err` says why the action does not apply in
/// the rollout's phase.
pub fn act(
    spec: &RolloutSpec,
    state: &RolloutState,
    action: Action,
    user: &str,
    now_millis: i64,
) -> Result<(RolloutState, Decision), String> {
    let phase = state.phase;
    let refuse = |why: &str| {
        Err(format!(
            "cannot {} a rollout that is {}{why}",
            action.name(),
            phase.name()
        ))
    };
    let mut next = state.clone();
    let message = match action {
        Action::Pause => {
            if phase.is_final() || matches!(phase, Phase::Paused | Phase::RollingBack) {
                return refuse("");
            }
            next.phase = Phase::Paused;
            next.paused_by = Some(user.to_string());
            next.paused_at_millis = Some(now_millis);
            next.paused_from = Some(phase);
            format!("paused by {user} at {} %", state.canary_weight)
        }
        Action::Resume => {
            if phase != Phase::Paused {
                return refuse(" (only a paused rollout resumes)");
            }
            next.phase = match state.paused_from {
                Some(Phase::Pending) => Phase::Pending,
                _ => Phase::Progressing,
            };
            next.paused_by = None;
            next.paused_at_millis = None;
            next.paused_from = None;
            // The interval starts again: the traffic while paused says nothing of this step.
            next.since_millis = now_millis;
            format!("resumed by {user} at {} %", state.canary_weight)
        }
        Action::Promote => {
            if phase.is_final() || phase == Phase::RollingBack {
                return refuse("");
            }
            next.phase = Phase::Promoted;
            next.step = last_step(spec);
            next.canary_weight = 100;
            next.reason = format!("promoted by {user}");
            format!("promoted by {user}: {} % → 100 %", state.canary_weight)
        }
        Action::Abort => {
            if phase.is_final() {
                return refuse("");
            }
            next.phase = Phase::Aborted;
            next.canary_weight = 0;
            next.reason = format!("aborted by {user}");
            format!("aborted by {user}: {} % → 0 %", state.canary_weight)
        }
    };
    if action != Action::Pause {
        next.paused_by = None;
        next.paused_at_millis = None;
        next.paused_from = None;
    }
    next.since_millis = now_millis;
    let decision = decision(state, &next, user, None, message);
    Ok((next, decision))
}

/// The TrafficRoute manifest that sends `canary_weight` % of the service's traffic to the
/// canary and the rest to stable, owned by the rollout `name` (its label says so).
pub fn route_manifest(mesh: &str, name: &str, spec: &RolloutSpec, canary_weight: u32) -> Value {
    let weight = canary_weight.min(100);
    let tags = |subset: &Option<crate::rollout::Subset>| {
        subset
            .as_ref()
            .map(|subset| json!(subset.tags))
            .unwrap_or_else(|| json!({}))
    };
    let mut backends = Vec::new();
    if weight < 100 {
        backends.push(
            json!({"service": spec.service, "tags": tags(&spec.stable), "weight": 100 - weight}),
        );
    }
    if weight > 0 {
        backends
            .push(json!({"service": spec.service, "tags": tags(&spec.canary), "weight": weight}));
    }
    json!({
        "apiVersion": crate::API_VERSION,
        "kind": "TrafficRoute",
        "metadata": {"name": name, "mesh": mesh, "labels": {ROLLOUT_LABEL: name}},
        "spec": {
            "targetRef": {"kind": "Mesh"},
            "to": [{
                "targetRef": {"kind": "Service", "name": spec.service},
                "rules": [{"matches": [{"path": {"prefix": "/"}}], "backends": backends}],
            }],
        },
    })
}
