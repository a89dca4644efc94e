-- Distinct contributors, for definitions with "thresholdOn": "contributors" (docs/privacy.md):
-- each raw measure keeps a keyed hash of the pseudonym its instance sent, and the aggregates a
-- distinct-count state of those hashes, so that the threshold can count instances rather than
-- measures. The pseudonym itself never reaches ClickHouse: the app hashes it with the
-- deployment's privacy secret (src/privacy/keys.ts) before the INSERT.
ALTER TABLE raw_measures
    ADD COLUMN IF NOT EXISTS contributor UInt64 DEFAULT 0 COMMENT 'HMAC-SHA256 of the contributor pseudonym with the privacy secret, first 8 bytes; 0 when the measure has none'
    AFTER with_quartiles;

-- Exact distinct count (uniqExact: a threshold must not be reached by an estimate's error).
-- The If keeps measures without a contributor out of it; existing rows read as an empty state.
ALTER TABLE aggregates
    ADD COLUMN IF NOT EXISTS contributors_state AggregateFunction(uniqExactIf, UInt64, UInt8)
    COMMENT 'distinct contributors state; read with uniqExactIfMerge';

-- The view is recreated to feed the new state (0002's otherwise). Between this DROP and the
-- CREATE below an insert would not be aggregated: migrations run at `dacc serve` start, before
-- the server accepts measures (or with `dacc migrate`). On a cluster whose other app instances
-- keep serving, stop them, or their POST /measure, while this file is applied.
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
GROUP BY measure_name, start_date, created_by, group1, group2, group3;
