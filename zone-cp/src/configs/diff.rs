//! What changed in one mesh between two rounds: the resources whose `Arc` (and content) differ.

use std::collections::BTreeMap;
use std::sync::Arc;

use weft_model::effective::Change;

use crate::state::MeshState;

/// The resources that differ between two states of one mesh (`previous` `None`: all of them).
pub fn changes<'a>(previous: Option<&'a MeshState>, current: &'a MeshState) -> Vec<Change<'a>> {
    let mut out = Vec::new();
    let mesh_before = previous.and_then(|state| state.mesh.as_deref());
    if mesh_before != current.mesh.as_deref() {
        out.push(Change {
            before: mesh_before,
            after: current.mesh.as_deref(),
        });
    }
    static EMPTY: std::sync::LazyLock<MeshState> = std::sync::LazyLock::new(MeshState::default);
    let previous = previous.unwrap_or(&EMPTY);
    diff(
        &previous.policies,
        &current.policies,
        |policy| policy,
        &mut out,
    );
    diff(
        &previous.dataplanes,
        &current.dataplanes,
        |entry| &entry.resource,
        &mut out,
    );
    out
}

/// Appends a change for every key whose value differs between two sorted maps.
fn diff<'a, K: Ord, V>(
    before: &'a BTreeMap<K, Arc<V>>,
    after: &'a BTreeMap<K, Arc<V>>,
    resource: impl Fn(&'a V) -> &'a weft_model::Resource,
    out: &mut Vec<Change<'a>>,
) {
    let mut before = before.iter().peekable();
    let mut after = after.iter().peekable();
    loop {
        let (old, new) = match (before.peek(), after.peek()) {
            (None, None) => return,
            (Some((old_key, _)), Some((new_key, _))) if old_key == new_key => {
                let (Some((_, old)), Some((_, new))) = (before.next(), after.next()) else {
                    return;
                };
                if Arc::ptr_eq(old, new) || resource(old) == resource(new) {
                    continue;
                }
                (Some(old), Some(new))
            }
            (Some((old_key, _)), Some((new_key, _))) if old_key < new_key => {
                (before.next().map(|(_, old)| old), None)
            }
            (Some(_), None) => (before.next().map(|(_, old)| old), None),
            _ => (None, after.next().map(|(_, new)| new)),
        };
        out.push(Change {
            before: old.map(|old| resource(old)),
            after: new.map(|new| resource(new)),
        });
    }
}
