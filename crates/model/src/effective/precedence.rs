//! Precedence, written once for every policy kind.
//!
//! A contribution is one `to`/`from` entry (or one whole policy, for kinds without entries)
//! that applies to a proxy and a peer. Contributions are ordered by, in turn:
//! 1. the specificity of the policy's `spec.targetRef` (Mesh < Service < Dataplane by tags <
//!    Dataplane by name),
//! 2. the specificity of the entry's `targetRef` (Mesh < Service),
//! 3. the policy name, the alphabetically *first* name winning,
//! 4. the entry's position in the policy, a later entry winning.
//!
//! Merging applies contributions from least to most precedent, so for each field the most
//! precedent contribution that sets it wins. The key is total: two contributions never compare
//! equal unless they are the same entry of the same policy.

use std::cmp::{Ordering, Reverse};

/// Ordering key of one contribution; greater wins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Precedence {
    pub policy_specificity: u8,
    pub entry_specificity: u8,
    pub name: Reverse<String>,
    pub position: usize,
}

impl Precedence {
    pub fn new(policy_specificity: u8, entry_specificity: u8, name: &str, position: usize) -> Self {
        Precedence {
            policy_specificity,
            entry_specificity,
            name: Reverse(name.to_string()),
            position,
        }
    }
}

/// Sorts contributions from least to most precedent.
pub fn sort_ascending<T>(items: &mut [(Precedence, T)]) {
    items.sort_by(|a, b| a.0.cmp(&b.0));
}

/// Compares two keys; exposed for tests and the policy report.
pub fn compare(a: &Precedence, b: &Precedence) -> Ordering {
    a.cmp(b)
}
