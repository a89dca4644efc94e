-- Journal loads that cannot stall one another (src/measures/loader.ts, src/measures/recovery.ts).
--
-- Each raw row keeps the deduplication token of the load that brought it: the journal segment or
-- the import chunk. The service decides from it what a load left in ClickHouse, instead of trusting
-- a memory it may have lost: at start, whether the segment that was loading when the last run
-- stopped had committed (rows of its token present: in doubt, completed under the same token);
-- when a load is set aside, which raw rows it committed before the engine refused the rest (they
-- are deleted, so that raw and aggregates agree and a retry is a fresh insert). For data
-- engineers, it is each row's lineage. Constant within a part: it costs next to nothing on disk.
ALTER TABLE raw_measures
    ADD COLUMN IF NOT EXISTS load_token LowCardinality(String) DEFAULT '' COMMENT 'deduplication token of the load that brought the row: dacc-journal-<segment> for a journal segment, dacc-original-<hash> for an import chunk; empty for rows inserted otherwise';

-- A larger deduplication window (0006 had 1,000 blocks): a load in doubt is completed under its
-- token only while both tables still remember it. Every part an insert writes is one block of the
-- window (a load usually writes one part per table, one per year of start_date in aggregates and
-- per week of receipt in raw_measures). With I instances each loading at most L times a second,
-- a record lasts at least window / (2 * I * L) seconds: 100,000 blocks are 14 hours for one
-- instance loading once a second, 1.4 hours for 10. Past that, a segment still in doubt is set
-- aside rather than replayed (recovery.ts). Memory: ~150 bytes a block held, ~15 MB a table.
ALTER TABLE raw_measures MODIFY SETTING non_replicated_deduplication_window = 100000;

ALTER TABLE aggregates MODIFY SETTING non_replicated_deduplication_window = 100000;

-- `dacc import` now loads an export's raw rows beside its copied states with this mark rather than
-- with the aggregate view detached, so that instances writing meanwhile lose nothing.
ALTER TABLE raw_measures
    COMMENT COLUMN in_imported_aggregates 'true for a raw measure already counted by aggregates it came with (an imported_aggregates row of the original service, or the states of a dacc export): aggregates_mv leaves it out';
