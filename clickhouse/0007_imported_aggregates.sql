-- Buckets imported from the original service (dacc import-original): for most past buckets the
-- original kept only its final statistics, its raw measures long purged. They are kept here as
-- they were, and /aggregate merges them with the states of `aggregates` (src/aggregates/queries.ts):
-- a bucket known only from here is answered with these values; one that also has measures
-- received since adds them up (count, sum, min, max exactly, std by the parallel variance
-- formula), without quartiles, which cannot be merged from final values.
CREATE TABLE IF NOT EXISTS imported_aggregates
(
    measure_name   LowCardinality(String) COMMENT 'as raw_measures.measure_name',
    start_date     DateTime('UTC')        COMMENT 'the stored bucket (the original''s start_date)',
    created_by     LowCardinality(String) COMMENT 'the original''s created_by; empty string for NULL',
    group1         String                 COMMENT 'value of the definition''s group1Key (from the original''s JSON group1); empty when none',
    group2         String                 COMMENT 'as group1, for group2',
    group3         String                 COMMENT 'as group1, for group3',
    duplicate      UInt8                  COMMENT '0; 1, 2... for further rows the original kept for the same key (a known defect): each is answered as a row of its own, as the original did',
    count          UInt64                 COMMENT 'the original''s count',
    count_not_zero UInt64                 COMMENT 'the original''s count_not_zero',
    sum            Float64                COMMENT 'the original''s sum (NUMERIC(12,2))',
    min            Float64                COMMENT 'the original''s min',
    max            Float64                COMMENT 'the original''s max',
    avg            Float64                COMMENT 'the original''s avg, answered as it is while the bucket holds nothing else',
    std            Float64                COMMENT 'the original''s sample standard deviation, likewise; merged as a variance',
    first_quartile Nullable(Float64)      COMMENT 'the original''s first_quartile (NULL unless with_quartiles)',
    median         Nullable(Float64)      COMMENT 'the original''s median',
    third_quartile Nullable(Float64)      COMMENT 'the original''s third_quartile',
    imported_at    DateTime64(3, 'UTC')   COMMENT 'when the import wrote the row: a new import of the same bucket replaces it'
)
ENGINE = ReplacingMergeTree(imported_at)
ORDER BY (measure_name, start_date, created_by, group1, group2, group3, duplicate)
COMMENT 'Final statistics of buckets imported from the original service; read with FINAL';
