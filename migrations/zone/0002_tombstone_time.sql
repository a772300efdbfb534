-- When each tombstone was made (Unix seconds), so tombstones older than the retention can be
-- compacted; a global behind the compaction point then gets a snapshot of the live dataplanes.
ALTER TABLE local_dataplanes ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;
