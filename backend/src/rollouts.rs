//! The rollout controller: once a second (and at once after a user's action) the leader
//! replica walks every Rollout, moves it with the pure decisions of
//! `weft_model::canary`, judges its gates on the canary's traffic in the same window the graph
//! uses, and keeps the TrafficRoute it owns in line with the state. Another replica takes over
//! from the stored state when it becomes the leader; states move only by compare-and-swap, so
//! a deposed leader's step changes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use weft_api::telemetry::EdgeCounters;
use weft_model::Kind;
use weft_model::canary::{self, Decision, Measurement, ROLLOUT_LABEL, RolloutState};
use weft_model::dataplane::VERSION_TAG;
use weft_model::resource::{Author, Resource, Spec};
use weft_model::rollout::RolloutSpec;

use crate::error::{Error, Result};
use crate::store::{Actor, Store, StoredResource, now_millis};
use crate::traffic::TrafficWindow;

/// How often the controller looks.
const TICK: Duration = Duration::from_secs(1);

pub struct Controller {
    store: Store,
    traffic: Arc<TrafficWindow>,
    leadership: crate::replicas::Leadership,
    /// Woken by the API after a user's action.
    pub wake: Arc<Notify>,
}

/// The canary's traffic over the last `seconds` up to `now` (unix seconds), from every zone:
/// every edge into the service's canary version.
pub fn measure(
    traffic: &TrafficWindow,
    mesh: &str,
    spec: &RolloutSpec,
    now: u64,
    seconds: u64,
) -> Measurement {
    let Some(version) = spec
        .canary
        .as_ref()
        .and_then(|canary| canary.tags.get(VERSION_TAG))
    else {
        return Measurement::default();
    };
    let mut total = EdgeCounters::default();
    for (key, counters) in traffic.window(mesh, now, seconds) {
        if key.destination_service == spec.service && &key.destination_version == version {
            total.merge(&counters);
        }
    }
    let requests = total.requests;
    let failures = total.failures().min(requests);
    Measurement {
        requests,
        success_rate: (requests > 0)
            .then(|| (requests - failures) as f64 * 100.0 / requests as f64),
        p99_millis: total.quantile_micros(0.99).map(|micros| micros / 1000.0),
    }
}

/// Whether a stored TrafficRoute belongs to the rollout `name`.
fn owned_by(route: &StoredResource, name: &str) -> bool {
    route.labels.get(ROLLOUT_LABEL).map(String::as_str) == Some(name)
}

/// Whether a TrafficRoute routes traffic to `service`.
fn routes_service(route: &StoredResource, service: &str) -> bool {
    route.spec["to"].as_array().is_some_and(|entries| {
        entries.iter().any(|entry| {
            entry["targetRef"]["kind"] == "Service" && entry["targetRef"]["name"] == service
        })
    })
}

/// A TrafficRoute of someone else that routes the service or takes the route's name.
fn conflict(routes: &[StoredResource], name: &str, spec: &RolloutSpec) -> Option<String> {
    routes
        .iter()
        .find(|route| {
            !owned_by(route, name) && (route.name == name || routes_service(route, &spec.service))
        })
        .map(|route| {
            format!(
                "TrafficRoute {:?} also routes {:?}; Weft will not overwrite it (delete it, or the Rollout)",
                route.name, spec.service
            )
        })
}

/// The typed spec of a stored Rollout.
pub fn rollout_spec(row: &StoredResource) -> Result<RolloutSpec> {
    match row.to_resource()?.spec {
        Spec::Rollout(spec) => Ok(spec),
        _ => Err(Error::Internal("a Rollout row holds another kind".into())),
    }
}

impl Controller {
    pub fn new(
        store: Store,
        traffic: Arc<TrafficWindow>,
        wake: Arc<Notify>,
        leadership: crate::replicas::Leadership,
    ) -> Controller {
        Controller {
            store,
            traffic,
            leadership,
            wake,
        }
    }

    /// Runs until shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.wake.notified() => {}
                _ = weft_runtime::stopped(&mut shutdown) => break,
            }
            if let Err(error) = self.step().await {
                tracing::warn!(%error, "rollout controller step failed; trying again");
            }
        }
    }

    /// One pass over every rollout, when this replica leads.
    pub async fn step(&self) -> Result<()> {
        if self.leadership.term().is_none() {
            return Ok(());
        }
        let rollouts = self.store.list(Kind::Rollout, None).await?;
        let mut states: HashMap<(String, String), _> = self
            .store
            .rollout_states()
            .await?
            .into_iter()
            .map(|row| ((row.mesh.clone(), row.name.clone()), row))
            .collect();
        let mut live = HashSet::new();
        for rollout in &rollouts {
            let key = (rollout.mesh.clone(), rollout.name.clone());
            live.insert(key.clone());
            let stored = states.remove(&key);
            if let Err(error) = self.reconcile(rollout, stored).await {
                tracing::warn!(mesh = %rollout.mesh, rollout = %rollout.name, %error, "rollout not reconciled");
            }
        }
        // Rollouts that were deleted: their route and state go too.
        for ((mesh, name), _) in states {
            self.remove_route(&mesh, &name).await?;
            self.store.forget_rollout(&mesh, &name).await?;
            tracing::info!(%mesh, rollout = %name, "rollout deleted; its route is gone");
        }
        Ok(())
    }

    async fn reconcile(
        &self,
        rollout: &StoredResource,
        stored: Option<crate::store::RolloutRow>,
    ) -> Result<()> {
        let (mesh, name) = (rollout.mesh.as_str(), rollout.name.as_str());
        let spec = rollout_spec(rollout)?;
        let now = now_millis();
        let generation = rollout.revision;
        // A new rollout, or a changed spec: start (again) from Pending.
        let (mut state, mut version) = match stored {
            Some(row) if row.state.generation == generation => (row.state, Some(row.version)),
            stored => {
                let fresh = RolloutState::new(generation, now);
                let message = if stored.is_some() {
                    "the spec changed: starting again from stable"
                } else {
                    "created: all traffic on stable until it starts"
                };
                let decision = Decision {
                    by: canary::CONTROLLER.into(),
                    phase: fresh.phase,
                    step: 0,
                    weight_before: stored.as_ref().map_or(0, |row| row.state.canary_weight),
                    weight_after: 0,
                    check: None,
                    message: message.into(),
                };
                let expected = stored.as_ref().map(|row| row.version);
                if !self
                    .store
                    .advance_rollout(mesh, name, expected, &fresh, &[decision], None)
                    .await?
                {
                    return Ok(());
                }
                (fresh, Some(expected.map_or(1, |version| version + 1)))
            }
        };
        let routes = self.store.list(Kind::TrafficRoute, Some(mesh)).await?;
        if let Some(problem) = conflict(&routes, name, &spec) {
            if state.reason != problem {
                let mut next = state.clone();
                next.reason = problem.clone();
                let decision = Decision {
                    by: canary::CONTROLLER.into(),
                    phase: state.phase,
                    step: state.step,
                    weight_before: state.canary_weight,
                    weight_after: state.canary_weight,
                    check: None,
                    message: format!("stopped: {problem}"),
                };
                self.store
                    .advance_rollout(mesh, name, version, &next, &[decision], None)
                    .await?;
            }
            return Ok(());
        }
        let traffic = &self.traffic;
        let now_seconds = u64::try_from(now / 1000).unwrap_or(0);
        if let Some((next, decision)) = canary::tick(&spec, &state, now, |seconds| {
            measure(traffic, mesh, &spec, now_seconds, seconds)
        }) {
            if !self
                .store
                .advance_rollout(mesh, name, version, &next, &[decision], None)
                .await?
            {
                // A user acted meanwhile: the next pass starts from what they did.
                return Ok(());
            }
            tracing::info!(%mesh, rollout = %name, phase = next.phase.name(), weight = next.canary_weight, "rollout moved");
            state = next;
            version = version.map(|version| version + 1);
        }
        let _ = version;
        self.ensure_route(mesh, name, &spec, &state, &routes).await
    }

    /// Writes the rollout's TrafficRoute when it does not carry the state's weight.
    async fn ensure_route(
        &self,
        mesh: &str,
        name: &str,
        spec: &RolloutSpec,
        state: &RolloutState,
        routes: &[StoredResource],
    ) -> Result<()> {
        let wanted = canary::route_manifest(mesh, name, spec, state.canary_weight);
        let resource = Resource::from_value(wanted, Author::Weft).map_err(|errors| {
            Error::Internal(format!("the generated route is invalid: {errors}"))
        })?;
        let existing = routes.iter().find(|route| route.name == name);
        if existing.is_some_and(|route| route.spec == resource.spec.to_value()) {
            return Ok(());
        }
        let actor = Actor::system(&format!("rollout {mesh}/{name}"));
        self.store
            .put(&resource, existing.map(|route| route.revision), &actor)
            .await?;
        Ok(())
    }

    async fn remove_route(&self, mesh: &str, name: &str) -> Result<()> {
        let Some(route) = self.store.get(Kind::TrafficRoute, mesh, name).await? else {
            return Ok(());
        };
        if route.deleted || !owned_by(&route, name) {
            return Ok(());
        }
        let actor = Actor::system(&format!("rollout {mesh}/{name} deleted"));
        match self
            .store
            .delete(Kind::TrafficRoute, mesh, name, Some(route.revision), &actor)
            .await
        {
            Ok(()) | Err(Error::NotFound(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }
}
