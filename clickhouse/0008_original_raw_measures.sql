-- Raw measures imported from the original service (dacc import-original, src/import/). The
-- original had already counted most of its raw rows into precomputed aggregation rows (those it
-- received up to its last aggregation run): those buckets come as their final statistics, into
-- imported_aggregates (0007). Their raw rows are imported too, for audit and for data engineers,
-- but must not be counted a second time, so the aggregate view leaves them out. A column the view
-- filters on, rather than detaching the view while loading (as `dacc import` does), lets the
-- import run while the server receives measures: every other insert, before and after, defaults
-- to counted.
ALTER TABLE raw_measures
    ADD COLUMN IF NOT EXISTS original_id UInt64 DEFAULT 0 COMMENT 'id of the row in the original service''s raw_measure table (dacc import-original); 0 for a measure received here',
    ADD COLUMN IF NOT EXISTS in_imported_aggregates Bool DEFAULT false COMMENT 'true for a raw measure imported from the original that its imported_aggregates row already counts: aggregates_mv leaves it out';

-- The view is recreated with that filter (0003's otherwise). Between this DROP and the CREATE
-- below an insert would not be aggregated: migrations run at `dacc serve` start, before the server
-- accepts measures (or with `dacc migrate`). On a cluster whose other app instances keep serving,
-- stop them, or their POST /measure, while this file is applied.
DROP VIEW IF EXISTS aggregates_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS aggregates_mv TO aggregates AS
SELECT
    measure_name,
    start_date,
    created_by,
    group1,
    group2,
    group3,
    count()                                                             AS count,
    countIf(value != 0)                                                 AS count_not_zero,
    sum(value)                                                          AS sum,
    min(value)                                                          AS min,
    max(value)                                                          AS max,
    varSampStableState(value)                                           AS var_state,
    quantilesExactInclusiveStateIf(0.25, 0.5, 0.75)(value, with_quartiles) AS quartiles_state,
    uniqExactStateIf(contributor, contributor != 0)                     AS contributors_state
FROM raw_measures
WHERE NOT in_imported_aggregates
GROUP BY measure_name, start_date, created_by, group1, group2, group3;
