-- Mergeable aggregate states per (measure, stored bucket, createdBy, groups), fed on every insert
-- into raw_measures by the materialized view below. /aggregate reads only this table.
--
-- Parts are merged lazily in the background, so a key can have several rows at any time:
-- readers must always re-aggregate (sum / min / max of the simple columns, -Merge of the states)
-- with GROUP BY, never read a row as final.
CREATE TABLE IF NOT EXISTS aggregates
(
    measure_name    LowCardinality(String) COMMENT 'as raw_measures.measure_name',
    start_date      DateTime('UTC')        COMMENT 'as raw_measures.start_date: the stored bucket; period rollups are computed at read time',
    created_by      LowCardinality(String) COMMENT 'as raw_measures.created_by',
    group1          String                 COMMENT 'as raw_measures.group1',
    group2          String                 COMMENT 'as raw_measures.group2',
    group3          String                 COMMENT 'as raw_measures.group3',
    count           SimpleAggregateFunction(sum, UInt64)  COMMENT 'number of measures',
    count_not_zero  SimpleAggregateFunction(sum, UInt64)  COMMENT 'number of measures whose value is not 0',
    sum             SimpleAggregateFunction(sum, Float64) COMMENT 'sum of the values',
    min             SimpleAggregateFunction(min, Float64) COMMENT 'smallest value',
    max             SimpleAggregateFunction(max, Float64) COMMENT 'largest value',
    -- Welford state (count, mean, M2): merging keeps the sample variance numerically stable,
    -- unlike a sum of squares.
    var_state       AggregateFunction(varSampStable, Float64) COMMENT 'sample variance state; read with varSampStableMerge',
    -- Every value, for exact quartiles with linear interpolation (PostgreSQL percentile_cont,
    -- numpy default). Only rows whose definition has withQuartiles feed it, so other measures
    -- store an empty state. The If combinator is part of the type: read with ...IfMerge.
    quartiles_state AggregateFunction(quantilesExactInclusiveIf(0.25, 0.5, 0.75), Float64, Bool)
                    COMMENT 'quartile state; read with quantilesExactInclusiveIfMerge(0.25, 0.5, 0.75)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(start_date)
ORDER BY (measure_name, start_date, created_by, group1, group2, group3)
COMMENT 'Aggregate states of raw_measures, kept current by aggregates_mv';

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
    quantilesExactInclusiveStateIf(0.25, 0.5, 0.75)(value, with_quartiles) AS quartiles_state
FROM raw_measures
GROUP BY measure_name, start_date, created_by, group1, group2, group3;
