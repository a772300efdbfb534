//! What both directions of the zone ↔ global stream share: message limits, and sending and
//! receiving resources as batches (a snapshot in parts, or incremental changes).

use crate::proto::{BatchKind, Resource, ResourceBatch};

/// Largest gRPC message any Weft control-plane stream sends or accepts.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Resources per batch.
pub const BATCH_SIZE: usize = 500;

/// Most resources one snapshot may hold: a peer sending more is cut off, not buffered.
pub const MAX_SNAPSHOT_RESOURCES: usize = 200_000;

/// A full snapshot at `revision` as batches: parts, then one end (always at least the end).
pub fn snapshot_batches(resources: Vec<Resource>, revision: u64) -> Vec<ResourceBatch> {
    let mut batches: Vec<ResourceBatch> = resources
        .chunks(BATCH_SIZE)
        .map(|chunk| ResourceBatch {
            kind: BatchKind::SnapshotPart as i32,
            resources: chunk.to_vec(),
            revision,
        })
        .collect();
    match batches.last_mut() {
        Some(last) => last.kind = BatchKind::SnapshotEnd as i32,
        None => batches.push(ResourceBatch {
            kind: BatchKind::SnapshotEnd as i32,
            resources: Vec::new(),
            revision,
        }),
    }
    batches
}

/// What a received batch amounts to.
#[derive(Debug, PartialEq)]
pub enum Received {
    /// A snapshot part, kept until its end arrives.
    Partial,
    /// Everything the sender owns at `revision`: replace what came before.
    Snapshot {
        resources: Vec<Resource>,
        revision: u64,
    },
    /// Changes up to `revision`.
    Changes {
        resources: Vec<Resource>,
        revision: u64,
    },
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("the snapshot holds more than {MAX_SNAPSHOT_RESOURCES} resources")]
pub struct SnapshotTooLarge;

/// Collects snapshot parts until the end.
#[derive(Default)]
pub struct Assembler {
    pending: Vec<Resource>,
}

impl Assembler {
    pub fn push(&mut self, batch: ResourceBatch) -> Result<Received, SnapshotTooLarge> {
        let kind = BatchKind::try_from(batch.kind).unwrap_or(BatchKind::Incremental);
        if kind == BatchKind::Incremental {
            return Ok(Received::Changes {
                resources: batch.resources,
                revision: batch.revision,
            });
        }
        if self.pending.len() + batch.resources.len() > MAX_SNAPSHOT_RESOURCES {
            self.pending = Vec::new();
            return Err(SnapshotTooLarge);
        }
        self.pending.extend(batch.resources);
        if kind == BatchKind::SnapshotPart {
            return Ok(Received::Partial);
        }
        Ok(Received::Snapshot {
            resources: std::mem::take(&mut self.pending),
            revision: batch.revision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(name: usize) -> Resource {
        Resource {
            name: format!("r{name}"),
            ..Resource::default()
        }
    }

    #[test]
    fn snapshots_arrive_whole_in_order() {
        let all: Vec<Resource> = (0..1_234).map(resource).collect();
        let batches = snapshot_batches(all.clone(), 7);
        assert_eq!(batches.len(), 3);
        let mut assembler = Assembler::default();
        let mut outcome = Vec::new();
        for batch in batches {
            outcome.push(assembler.push(batch).unwrap());
        }
        assert_eq!(outcome[0], Received::Partial);
        assert_eq!(outcome[1], Received::Partial);
        assert_eq!(
            outcome[2],
            Received::Snapshot {
                resources: all,
                revision: 7
            }
        );
        // An empty snapshot is one end, and it empties the receiver.
        let empty = snapshot_batches(Vec::new(), 9);
        assert_eq!(empty.len(), 1);
        assert_eq!(
            assembler.push(empty.into_iter().next().unwrap()).unwrap(),
            Received::Snapshot {
                resources: Vec::new(),
                revision: 9
            }
        );
    }

    #[test]
    fn changes_pass_and_endless_snapshots_are_cut_off() {
        let mut assembler = Assembler::default();
        let change = ResourceBatch {
            kind: BatchKind::Incremental as i32,
            resources: vec![resource(1)],
            revision: 3,
        };
        assert!(matches!(
            assembler.push(change),
            Ok(Received::Changes { revision: 3, .. })
        ));
        let part = || ResourceBatch {
            kind: BatchKind::SnapshotPart as i32,
            resources: (0..BATCH_SIZE).map(resource).collect(),
            revision: 4,
        };
        let mut result = Ok(Received::Partial);
        for _ in 0..=MAX_SNAPSHOT_RESOURCES / BATCH_SIZE {
            result = assembler.push(part());
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(SnapshotTooLarge));
    }
}
