-- Exactly once across crashes. The server acknowledges measures once they are in its journal and
-- loads each journal segment with one INSERT whose insert_deduplication_token is the segment's
-- name (src/measures/queries.ts). After a crash or a failed insert the segment is inserted again
-- with the same token: each table then drops the blocks it already holds and writes the others,
-- so a crash between the raw part and the view's part of one INSERT completes the aggregates
-- without doubling the raw rows. A plain MergeTree remembers no block unless told to; 1000 blocks
-- cover the few segments that can be in doubt (one is loaded at a time, and removed before the
-- next). Replicated tables (cluster mode) keep their own window, 1000 or more by default.
-- Other inserts without a token are deduplicated by their data within that window, as on any
-- Replicated table: an INSERT repeating an identical block is dropped (insert_deduplicate = 0,
-- or a token, inserts it anyway).
--
-- fsync_after_insert: a segment is removed from the journal once ClickHouse holds it, so its parts
-- must be on disk by then for a power cut not to lose them (ClickHouse does not fsync by default;
-- loads come once a second, so this costs a few fsyncs a second). Merged parts need nothing more:
-- ClickHouse keeps the parts they replace for old_parts_lifetime for that very reason.
ALTER TABLE raw_measures MODIFY SETTING non_replicated_deduplication_window = 1000, fsync_after_insert = 1, fsync_part_directory = 1;

ALTER TABLE aggregates MODIFY SETTING non_replicated_deduplication_window = 1000, fsync_after_insert = 1, fsync_part_directory = 1;

-- Idempotency keys are now looked up in the journal's own index (src/measures/keys.ts), not among
-- raw rows: the raw rows keep their key (for audit), without an index that every insert fed.
ALTER TABLE raw_measures DROP INDEX IF EXISTS idempotency_key_index;
