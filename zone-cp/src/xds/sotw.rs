//! State of the world: each response holds every subscribed resource of its type; a request
//! names every resource the client wants of that type.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use tonic::Status;

use super::session::Session;
use super::{Variant, served};

pub struct Sotw;

impl Variant for Sotw {
    type Request = DiscoveryRequest;
    type Response = DiscoveryResponse;

    fn node(request: &DiscoveryRequest) -> Option<&Node> {
        request.node.as_ref()
    }

    async fn request(session: &mut Session, request: DiscoveryRequest) -> Result<(), Status> {
        let Some(type_url) = served(&request.type_url) else {
            tracing::debug!(r#type = %request.type_url, "a type the zone does not serve");
            return Ok(());
        };
        if !request.response_nonce.is_empty() {
            let error = request
                .error_detail
                .as_ref()
                .map(|status| status.message.as_str());
            if !session.answer(type_url, &request.response_nonce, error) {
                return Ok(());
            }
        }
        let names: BTreeSet<String> = request.resource_names.into_iter().collect();
        // A listener or cluster request naming nothing asks for everything (Envoy's wildcard).
        let wildcard = names.is_empty() || names.contains("*");
        let changed = session
            .subscriptions
            .get(type_url)
            .is_none_or(|s| s.names != names || s.wildcard != wildcard);
        if changed {
            session
                .subscribe(type_url, names, wildcard)
                .await
                .map_err(Status::from)?;
            // A new subscription is answered even when its resources were sent before.
            session.force(type_url);
        }
        Ok(())
    }

    fn response(session: &mut Session, type_url: &'static str) -> Option<DiscoveryResponse> {
        let version = session.ready_version()?;
        let wanted = session.wanted(type_url)?;
        let sent = session.sent.get(type_url);
        if sent.is_some_and(|sent| sent.resources == wanted) && !session.forced(type_url) {
            return None;
        }
        let nonce = session.nonce();
        let response = DiscoveryResponse {
            version_info: version.to_string(),
            resources: wanted.values().cloned().collect(),
            type_url: type_url.to_string(),
            nonce: nonce.clone(),
            ..DiscoveryResponse::default()
        };
        session.record_sent(type_url, nonce, version, wanted);
        Some(response)
    }
}
