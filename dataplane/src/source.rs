//! Who is calling an inbound. Only an identity verified by mTLS counts for permissions and
//! per-source policies; the `x-weft-source` header that outbound proxies set is a hint for
//! telemetry (so that traffic between proxies is not counted twice) and names nobody.

use std::sync::Arc;

use crate::stack::Request;

/// The caller's service, from its certificate (set by the listener on mTLS connections).
#[derive(Clone, Debug)]
pub struct VerifiedPeer(pub Arc<str>);

/// The verified service of the caller, if the request came over mTLS.
pub fn verified(request: &Request) -> Option<&str> {
    request
        .extensions()
        .get::<VerifiedPeer>()
        .map(|peer| &*peer.0)
}
