-- The quartile values of buckets imported from the original service (0007). Its aggregation rows
-- hold final quartiles, which cannot be merged with anything; but as long as it still had every
-- raw measure of a bucket, the original recomputed them from those when measures came later. The
-- import brings those raw measures too (0008: kept out of the aggregates), so for such a bucket it
-- stores their values here, in the state `aggregates` keeps (src/import/queries.ts): the bucket is
-- then answered as stored while nothing else came, and with the quartiles of all its measures once
-- some did, in periods too. A bucket whose raw measures the original purged, in part or whole,
-- keeps an empty state: its quartiles are lost once merged, as the original refused to update them.
ALTER TABLE imported_aggregates
    ADD COLUMN IF NOT EXISTS raw_purged Bool DEFAULT false COMMENT 'the original purged raw measures of this bucket (its last_raw_measures_purged was set): its quartile values cannot be had'
    AFTER third_quartile,
    ADD COLUMN IF NOT EXISTS quartiles_state AggregateFunction(quantilesExactInclusiveIf(0.25, 0.5, 0.75), Float64, Bool)
    COMMENT 'the values of every measure the bucket counts, as aggregates.quartiles_state, when the original still had them all (they are in raw_measures, in_imported_aggregates); else empty. Read with quantilesExactInclusiveIfMerge'
    AFTER raw_purged;
