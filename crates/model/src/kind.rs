//! The one list of resource kinds. REST routes, zone sync and the console are driven from it.

use serde::{Deserialize, Serialize};

/// Where a kind's resources are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written through the global API, synced down to zones.
    Global,
    /// Registered by a zone, synced up to global (read-only through the global API).
    Zone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Mesh,
    Dataplane,
    TrafficRoute,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Mesh, Kind::Dataplane, Kind::TrafficRoute];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Mesh => "Mesh",
            Kind::Dataplane => "Dataplane",
            Kind::TrafficRoute => "TrafficRoute",
        }
    }

    /// Lower-case kind plus `s`: the REST collection name.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Mesh => "meshes",
            Kind::Dataplane => "dataplanes",
            Kind::TrafficRoute => "trafficroutes",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    pub fn from_plural(plural: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.plural() == plural)
    }

    /// Mesh-scoped kinds carry `metadata.mesh`; global-scoped ones must not.
    pub fn is_mesh_scoped(self) -> bool {
        !matches!(self, Kind::Mesh)
    }

    pub fn origin(self) -> Origin {
        match self {
            Kind::Dataplane => Origin::Zone,
            Kind::Mesh | Kind::TrafficRoute => Origin::Global,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_plurals_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
            assert_eq!(Kind::from_plural(kind.plural()), Some(kind));
            assert_eq!(
                kind.plural(),
                format!("{}s", kind.name().to_lowercase()).replace("meshs", "meshes")
            );
        }
    }
}
