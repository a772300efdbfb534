//! Explicit, per-field merging with provenance: which policy set which field.

use std::collections::BTreeMap;

/// Setting path (e.g. `outbound[catalog].timeout.request`) → the policy that produced it
/// (e.g. `Timeout/slow-catalog`).
pub type Provenance = BTreeMap<String, String>;

/// Merging a more specific configuration over a less specific one: every field `other` sets
/// replaces the field in `self`; fields `other` leaves unset are kept.
pub trait Merge {
    fn merge_from(&mut self, other: &Self, origin: &str, path: &str, provenance: &mut Provenance);
}

/// Implements [`Merge`] by listing fields explicitly: `leaf` fields are replaced as a whole,
/// `nested` fields (themselves `Merge`) are merged field by field.
#[macro_export]
macro_rules! merge_fields {
    ($type:ty { leaf: [$($leaf:ident => $leaf_name:literal),* $(,)?] $(, nested: [$($nested:ident => $nested_name:literal),* $(,)?])? $(,)? }) => {
        impl $crate::policy::merge::Merge for $type {
            fn merge_from(&mut self, other: &Self, origin: &str, path: &str, provenance: &mut $crate::policy::merge::Provenance) {
                $(
                    if let Some(value) = &other.$leaf {
                        self.$leaf = Some(value.clone());
                        provenance.insert(format!("{path}.{}", $leaf_name), origin.to_string());
                    }
                )*
                $($(
                    if let Some(value) = &other.$nested {
                        let target = self.$nested.get_or_insert_with(Default::default);
                        $crate::policy::merge::Merge::merge_from(target, value, origin, &format!("{path}.{}", $nested_name), provenance);
                    }
                )*)?
            }
        }
    };
}
