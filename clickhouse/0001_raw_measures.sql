-- Every measure accepted by POST /measure, one row each, as it was received.
-- Raw rows are kept for audit and for data engineers; the aggregates never read them again
-- (see 0002), so they can be purged without changing any answer of /aggregate.
CREATE TABLE IF NOT EXISTS raw_measures
(
    measure_name   LowCardinality(String) COMMENT 'name of the measure definition (SQLite) the measure belongs to',
    start_date     DateTime('UTC')        COMMENT 'aggregation bucket: the wall-clock startDate sent by the producer, to the second, offset ignored',
    created_by     LowCardinality(String) COMMENT 'producing app (createdBy); empty string when absent',
    group1         String                 COMMENT 'value of the definition''s group1Key, as a string; empty when the definition has no group1Key',
    group2         String                 COMMENT 'value of the definition''s group2Key, as a string; empty when the definition has no group2Key',
    group3         String                 COMMENT 'value of the definition''s group3Key, as a string; empty when the definition has no group3Key',
    value          Float64                COMMENT 'the measured value',
    with_quartiles Bool                   COMMENT 'copied from the definition at receipt: the aggregate view keeps quartile states only for these rows',
    received_at    DateTime64(3, 'UTC')   COMMENT 'when the service accepted the measure; purges go by this time'
)
ENGINE = MergeTree
-- Weekly partitions: a purge of "older than N days" drops whole weeks at once and deletes
-- only the rows of the boundary week, while an insert batch lands in one or two partitions.
PARTITION BY toMonday(received_at)
ORDER BY (measure_name, start_date, created_by, group1, group2, group3)
COMMENT 'Raw measures as received (see clickhouse/0002_aggregates.sql for what reads them)';
