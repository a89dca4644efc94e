-- For data engineers: /aggregate's stored-bucket answers as a view, so that
--   SELECT * FROM aggregates_public WHERE measure_name = '...'
-- gives exactly the rows (and rounded values) that /aggregate gives without period or wildcard,
-- thresholds and access flags applied, with no row under the threshold ever in it.

-- Measure definitions mirrored from SQLite (the source of truth) by `dacc insert-definitions-json`,
-- `dacc definitions delete`, `dacc migrate` and at `dacc serve` start. A mirror replaces the
-- whole set: every definition with a new version, a tombstone (deleted = 1) for a removed one.
CREATE TABLE IF NOT EXISTS measure_definitions
(
    name                  String                 COMMENT 'the definition name (measure_name in the other tables)',
    group1_key            Nullable(String)       COMMENT 'group1Key, NULL when the definition has none',
    group2_key            Nullable(String)       COMMENT 'group2Key',
    group3_key            Nullable(String)       COMMENT 'group3Key',
    aggregation_threshold UInt32                 COMMENT 'aggregationThreshold: fewer contributions and a row is not published',
    threshold_on          LowCardinality(String) COMMENT 'what the threshold counts: measures, or distinct contributors',
    with_quartiles        Bool                   COMMENT 'withQuartiles: median and quartiles are published',
    hide_extremes         Bool                   COMMENT 'hideExtremes: min and max are not published',
    readable              Bool                   COMMENT 'published through aggregates_public: accessApp or accessPublic, and no option this view cannot apply (noise, a fixed publication)',
    version               UInt64                 COMMENT 'mirror time in milliseconds: the latest row of a name wins',
    deleted               UInt8                  COMMENT '1 for a definition removed from SQLite'
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY name
COMMENT 'Measure definitions mirrored from the SQLite store; read with FINAL';

-- Values are rounded half away from zero to 2 places, as the API does (round() would round float
-- ties to even); std is 0 for a single value, as the API answers.
CREATE VIEW IF NOT EXISTS aggregates_public AS
SELECT
    a.measure_name                                                    AS measure_name,
    a.start_date                                                      AS start_date,
    nullIf(a.created_by, '')                                          AS created_by,
    d.group1_key                                                      AS group1_key,
    if(d.group1_key IS NULL, NULL, a.group1)                          AS group1,
    d.group2_key                                                      AS group2_key,
    if(d.group2_key IS NULL, NULL, a.group2)                          AS group2,
    d.group3_key                                                      AS group3_key,
    if(d.group3_key IS NULL, NULL, a.group3)                          AS group3,
    a.count                                                           AS count,
    a.count_not_zero                                                  AS count_not_zero,
    sign(a.sum) * floor(abs(a.sum) * 100 + 0.5) / 100                 AS sum,
    if(d.hide_extremes, NULL, sign(a.min) * floor(abs(a.min) * 100 + 0.5) / 100) AS min,
    if(d.hide_extremes, NULL, sign(a.max) * floor(abs(a.max) * 100 + 0.5) / 100) AS max,
    sign(a.sum / a.count) * floor(abs(a.sum / a.count) * 100 + 0.5) / 100 AS avg,
    floor(ifNotFinite(sqrt(a.variance), 0) * 100 + 0.5) / 100         AS std,
    if(d.with_quartiles, sign(a.quartiles[1]) * floor(abs(a.quartiles[1]) * 100 + 0.5) / 100, NULL) AS first_quartile,
    if(d.with_quartiles, sign(a.quartiles[2]) * floor(abs(a.quartiles[2]) * 100 + 0.5) / 100, NULL) AS median,
    if(d.with_quartiles, sign(a.quartiles[3]) * floor(abs(a.quartiles[3]) * 100 + 0.5) / 100, NULL) AS third_quartile,
    if(d.threshold_on = 'contributors', a.contributors, NULL)         AS contributors
FROM
(
    -- States re-aggregated: parts merge lazily.
    SELECT
        measure_name, start_date, created_by, group1, group2, group3,
        sum(count)                                                   AS count,
        sum(count_not_zero)                                          AS count_not_zero,
        sum(sum)                                                     AS sum,
        min(min)                                                     AS min,
        max(max)                                                     AS max,
        varSampStableMerge(var_state)                                AS variance,
        quantilesExactInclusiveIfMerge(0.25, 0.5, 0.75)(quartiles_state) AS quartiles,
        uniqExactIfMerge(contributors_state)                         AS contributors
    FROM aggregates
    GROUP BY measure_name, start_date, created_by, group1, group2, group3
) AS a
INNER JOIN
(
    SELECT * FROM measure_definitions FINAL WHERE readable
) AS d ON d.name = a.measure_name
WHERE if(d.threshold_on = 'contributors', a.contributors, a.count) >= d.aggregation_threshold;
