//! The rollout controller's decisions, one scenario per test; each comment states what must
//! happen.

use weft_model::canary::{
    self, Action, Measurement, Phase, RolloutState, Verdict, act, route_manifest, tick,
};
use weft_model::resource::{Author, Resource};
use weft_model::rollout::RolloutSpec;

fn spec(yaml: &str) -> RolloutSpec {
    serde_saphyr::from_str(yaml).unwrap()
}

/// 10 → 50 → 100 every 2 s; at least 99 % success, p99 at most 500 ms, 20 requests.
fn standard() -> RolloutSpec {
    spec(
        "service: catalog\nstable: {tags: {version: v1}}\ncanary: {tags: {version: v2}}\n\
         steps: [10, 50, 100]\ninterval: 2s\ngates: {successRate: 99, p99: 500ms, minRequests: 20}\n\
         maxFailedChecks: 2\n",
    )
}

fn healthy() -> Measurement {
    Measurement {
        requests: 100,
        success_rate: Some(100.0),
        p99_millis: Some(20.0),
    }
}

fn failing() -> Measurement {
    Measurement {
        requests: 100,
        success_rate: Some(80.0),
        p99_millis: Some(20.0),
    }
}

fn quiet(requests: u64) -> Measurement {
    Measurement {
        requests,
        success_rate: Some(100.0),
        p99_millis: Some(5.0),
    }
}

fn never(_: u64) -> Measurement {
    panic!("no check was due")
}

/// Runs ticks 2 s apart, each measuring `measured`, and returns the states reached.
fn run(
    spec: &RolloutSpec,
    mut state: RolloutState,
    ticks: usize,
    measured: Measurement,
) -> Vec<RolloutState> {
    let mut seen = Vec::new();
    let mut now = state.since_millis;
    for _ in 0..ticks {
        if let Some((next, _)) = tick(spec, &state, now, |_| measured) {
            state = next;
        }
        seen.push(state.clone());
        now += 2_000;
    }
    seen
}

#[test]
fn a_healthy_canary_walks_every_step_and_is_promoted() {
    let spec = standard();
    let states = run(&spec, RolloutState::new(7, 0), 5, healthy());
    // Starts at the first step at once, then one step per interval, then promoted at 100 %.
    let path: Vec<(Phase, u32)> = states.iter().map(|s| (s.phase, s.canary_weight)).collect();
    assert_eq!(
        path,
        [
            (Phase::Progressing, 10),
            (Phase::Progressing, 50),
            (Phase::Progressing, 100),
            (Phase::Promoted, 100),
            (Phase::Promoted, 100),
        ]
    );
}

#[test]
fn no_check_before_the_interval_ends() {
    let spec = standard();
    let (started, _) = tick(&spec, &RolloutState::new(1, 0), 0, never).unwrap();
    // 1.999 s after the step: nothing to do, and nothing measured.
    assert!(tick(&spec, &started, 1_999, never).is_none());
}

#[test]
fn failing_checks_roll_back_after_max_failed_checks() {
    let spec = standard();
    let (mut state, _) = tick(&spec, &RolloutState::new(1, 0), 0, never).unwrap();
    // The first failure holds the weight and counts; the second rolls back to 0 %.
    let (after_one, first) = tick(&spec, &state, 2_000, |_| failing()).unwrap();
    assert_eq!(
        (
            after_one.phase,
            after_one.canary_weight,
            after_one.failed_checks
        ),
        (Phase::Progressing, 10, 1)
    );
    let check = first.check.unwrap();
    assert_eq!(check.verdict, Verdict::Failed);
    assert_eq!(check.measured.success_rate, Some(80.0));
    assert_eq!(check.success_rate_gate, Some(99.0));
    assert!(
        check.failures[0].contains("success rate 80.0 % < 99 %"),
        "{:?}",
        check.failures
    );
    state = after_one;
    let (rolling, second) = tick(&spec, &state, 4_000, |_| failing()).unwrap();
    assert_eq!(
        (rolling.phase, rolling.canary_weight),
        (Phase::RollingBack, 0)
    );
    assert_eq!((second.weight_before, second.weight_after), (10, 0));
    // Then it is rolled back, with the reason kept.
    let (done, _) = tick(&spec, &rolling, 5_000, never).unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert!(
        done.reason.contains("2 failed checks in a row"),
        "{}",
        done.reason
    );
    assert!(tick(&spec, &done, 60_000, never).is_none());
}

#[test]
fn a_passing_check_forgives_earlier_failures() {
    let spec = standard();
    let (state, _) = tick(&spec, &RolloutState::new(1, 0), 0, never).unwrap();
    let (state, _) = tick(&spec, &state, 2_000, |_| failing()).unwrap();
    let (state, _) = tick(&spec, &state, 4_000, |_| healthy()).unwrap();
    // Failures must be consecutive: the count starts over and the rollout moves on.
    assert_eq!((state.failed_checks, state.canary_weight), (0, 50));
}

#[test]
fn a_slow_canary_fails_the_p99_gate() {
    let spec = standard();
    let (state, _) = tick(&spec, &RolloutState::new(1, 0), 0, never).unwrap();
    let slow = Measurement {
        p99_millis: Some(900.0),
        ..healthy()
    };
    let (_, decision) = tick(&spec, &state, 2_000, |_| slow).unwrap();
    assert_eq!(decision.check.unwrap().failures, ["p99 900 ms > 500 ms"]);
}

#[test]
fn no_traffic_holds_by_default_and_says_what_it_saw() {
    let spec = standard();
    let (state, _) = tick(&spec, &RolloutState::new(1, 0), 0, never).unwrap();
    // 3 of 20 requests: waiting, explicitly, at the same weight; no failure counted.
    let (waiting, decision) = tick(&spec, &state, 2_000, |_| quiet(3)).unwrap();
    assert_eq!(
        (waiting.phase, waiting.canary_weight, waiting.failed_checks),
        (Phase::WaitingForTraffic, 10, 0)
    );
    assert_eq!(
        waiting.reason,
        "3 canary requests in the last 2 s, 20 needed"
    );
    assert_eq!(decision.check.unwrap().verdict, Verdict::NoTraffic);
    // Traffic comes back: the next check passes and the rollout moves on.
    let (moving, _) = tick(&spec, &waiting, 4_000, |_| healthy()).unwrap();
    assert_eq!(
        (moving.phase, moving.canary_weight),
        (Phase::Progressing, 50)
    );
}

#[test]
fn no_traffic_fails_with_on_no_traffic_fail() {
    let mut spec = standard();
    spec.on_no_traffic = Some(weft_model::rollout::OnNoTraffic::Fail);
    spec.max_failed_checks = Some(1);
    let (state, _) = tick(&spec, &RolloutState::new(1, 0), 0, never).unwrap();
    let (rolling, _) = tick(&spec, &state, 2_000, |_| quiet(0)).unwrap();
    // Counts as a failed check; with maxFailedChecks 1 that is a rollback.
    assert_eq!(rolling.phase, Phase::RollingBack);
    assert!(
        rolling
            .reason
            .contains("0 canary requests, 20 needed (onNoTraffic: Fail)"),
        "{}",
        rolling.reason
    );
}

#[test]
fn pause_holds_and_resume_continues_at_the_same_step() {
    let spec = standard();
    let states = run(&spec, RolloutState::new(1, 0), 2, healthy());
    let at_50 = states.last().unwrap().clone();
    let (paused, decision) = act(&spec, &at_50, Action::Pause, "alice", 3_000).unwrap();
    assert_eq!(
        (paused.phase, paused.paused_by.as_deref()),
        (Phase::Paused, Some("alice"))
    );
    assert_eq!(decision.by, "alice");
    // Paused: ticks change nothing, however long.
    assert!(tick(&spec, &paused, 1_000_000, never).is_none());
    let (resumed, _) = act(&spec, &paused, Action::Resume, "bob", 10_000).unwrap();
    assert_eq!(
        (resumed.phase, resumed.step, resumed.canary_weight),
        (Phase::Progressing, 1, 50)
    );
    assert_eq!(resumed.paused_by, None);
    // The interval starts again at the resume.
    assert!(tick(&spec, &resumed, 11_999, never).is_none());
    let (next, _) = tick(&spec, &resumed, 12_000, |_| healthy()).unwrap();
    assert_eq!(next.canary_weight, 100);
}

#[test]
fn promote_and_abort_jump_and_final_states_refuse_actions() {
    let spec = standard();
    let (state, _) = tick(&spec, &RolloutState::new(1, 0), 0, never).unwrap();
    let (promoted, _) = act(&spec, &state, Action::Promote, "alice", 1).unwrap();
    assert_eq!(
        (promoted.phase, promoted.canary_weight, promoted.step),
        (Phase::Promoted, 100, 2)
    );
    let (aborted, _) = act(&spec, &state, Action::Abort, "alice", 1).unwrap();
    assert_eq!((aborted.phase, aborted.canary_weight), (Phase::Aborted, 0));
    // An aborted rollout cannot be promoted, paused or aborted again; only a paused one resumes.
    for action in [
        Action::Promote,
        Action::Pause,
        Action::Abort,
        Action::Resume,
    ] {
        let error = act(&spec, &aborted, action, "alice", 2).unwrap_err();
        assert!(error.contains("Aborted"), "{error}");
    }
    let error = act(&spec, &state, Action::Resume, "alice", 2).unwrap_err();
    assert_eq!(
        error,
        "cannot resume a rollout that is Progressing (only a paused rollout resumes)"
    );
}

#[test]
fn the_route_carries_the_weight_and_is_a_valid_traffic_route() {
    let spec = standard();
    for (weight, backends) in [
        (0, vec![("v1", 100)]),
        (30, vec![("v1", 70), ("v2", 30)]),
        (100, vec![("v2", 100)]),
    ] {
        let manifest = route_manifest("shop", "catalog", &spec, weight);
        let seen: Vec<(String, u64)> = manifest["spec"]["to"][0]["rules"][0]["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|backend| {
                (
                    backend["tags"]["version"].as_str().unwrap().to_string(),
                    backend["weight"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, u64)> =
            backends.iter().map(|(v, w)| (v.to_string(), *w)).collect();
        assert_eq!(seen, expected, "weight {weight}");
        // Valid for Weft itself (its label is reserved to users).
        Resource::from_value(manifest.clone(), Author::Weft).unwrap();
        assert!(Resource::from_value(manifest, Author::User).is_err());
    }
    assert_eq!(canary::ROLLOUT_LABEL, "weft.dev/rollout");
}
