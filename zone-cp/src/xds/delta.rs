//! Incremental ("delta"): each response holds the resources that changed and the names of
//! subscribed ones that no longer exist; a request subscribes and unsubscribes names.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource,
};
use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use tonic::Status;

use super::session::Session;
use super::{Variant, served};

pub struct Delta;

impl Variant for Delta {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaDiscoveryResponse;

    fn node(request: &DeltaDiscoveryRequest) -> Option<&Node> {
        request.node.as_ref()
    }

    async fn request(session: &mut Session, request: DeltaDiscoveryRequest) -> Result<(), Status> {
        let Some(type_url) = served(&request.type_url) else {
            tracing::debug!(r#type = %request.type_url, "a type the zone does not serve");
            return Ok(());
        };
        if !request.response_nonce.is_empty() {
            let error = request
                .error_detail
                .as_ref()
                .map(|status| status.message.as_str());
            session.answer(type_url, &request.response_nonce, error);
        }
        let first = !session.subscriptions.contains_key(type_url);
        if !first
            && request.resource_names_subscribe.is_empty()
            && request.resource_names_unsubscribe.is_empty()
        {
            return Ok(());
        }
        let (mut names, mut wildcard) = session
            .subscriptions
            .get(type_url)
            .map(|s| (s.names.clone(), s.wildcard))
            .unwrap_or_default();
        if first && request.resource_names_subscribe.is_empty() {
            wildcard = true;
        }
        for name in request.resource_names_subscribe {
            if name == "*" {
                wildcard = true;
            } else {
                names.insert(name);
            }
        }
        for name in &request.resource_names_unsubscribe {
            if name == "*" {
                wildcard = false;
            } else {
                names.remove(name);
            }
        }
        session
            .subscribe(type_url, names, wildcard)
            .await
            .map_err(Status::from)
    }

    fn response(session: &mut Session, type_url: &'static str) -> Option<DeltaDiscoveryResponse> {
        let version = session.ready_version()?;
        let wanted = session.wanted(type_url)?;
        let subscription = session.subscriptions.get(type_url)?;
        let empty = BTreeMap::new();
        let before = session
            .sent
            .get(type_url)
            .map_or(&empty, |sent| &sent.resources);
        let changed: Vec<Resource> = wanted
            .iter()
            .filter(|(name, resource)| before.get(*name) != Some(*resource))
            .map(|(name, resource)| Resource {
                name: name.clone(),
                version: resource_version(resource),
                resource: Some(resource.clone()),
                ..Resource::default()
            })
            .collect();
        // Names still subscribed that no longer exist; an unsubscribed name needs no word.
        let removed: Vec<String> = before
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .filter(|name| subscription.wildcard || subscription.names.contains(*name))
            .cloned()
            .collect();
        let first = !session.sent.contains_key(type_url);
        if changed.is_empty() && removed.is_empty() && !first {
            return None;
        }
        let nonce = session.nonce();
        let response = DeltaDiscoveryResponse {
            system_version_info: version.to_string(),
            resources: changed,
            type_url: type_url.to_string(),
            removed_resources: removed,
            nonce: nonce.clone(),
            ..DeltaDiscoveryResponse::default()
        };
        session.record_sent(type_url, nonce, version, wanted);
        Some(response)
    }
}

/// A resource's version in the incremental protocol: a digest of its encoding.
fn resource_version(resource: &Any) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    resource.type_url.hash(&mut hasher);
    resource.encode_to_vec().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
