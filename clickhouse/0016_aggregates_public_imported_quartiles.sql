-- aggregates_public (0009) with the quartile values of imported buckets (0015), so that it still
-- equals /aggregate's stored-bucket answers: a bucket that holds imported statistics and measures
-- received here has the quartiles of all its measures when the import kept the values of the
-- imported ones (src/aggregates/stats.ts does the same), none otherwise. Quartiles are rounded as
-- the original stored them, '%.2f' of the float (src/aggregates/format.ts, roundQuartile: ties to
-- even; round() would multiply first). The rest is 0009's.

DROP VIEW IF EXISTS aggregates_public;

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
    a.n                                                               AS count,
    a.n_not_zero                                                      AS count_not_zero,
    sign(a.total) * floor(abs(a.total) * 100 + 0.5) / 100             AS sum,
    if(d.hide_extremes, NULL, sign(a.lowest) * floor(abs(a.lowest) * 100 + 0.5) / 100) AS min,
    if(d.hide_extremes, NULL, sign(a.highest) * floor(abs(a.highest) * 100 + 0.5) / 100) AS max,
    sign(a.mean) * floor(abs(a.mean) * 100 + 0.5) / 100               AS avg,
    floor(a.deviation * 100 + 0.5) / 100                              AS std,
    if(d.with_quartiles, toFloat64(printf('%.2f', a.quartiles[1])), NULL) AS first_quartile,
    if(d.with_quartiles, toFloat64(printf('%.2f', a.quartiles[2])), NULL) AS median,
    if(d.with_quartiles, toFloat64(printf('%.2f', a.quartiles[3])), NULL) AS third_quartile,
    if(d.threshold_on = 'contributors', a.contributors, NULL)         AS contributors
FROM
(
    -- Part a: received here; part b: imported. An imported bucket alone keeps its stored avg, std
    -- and quartiles; merged, m2 = m2a + m2b + delta^2 * na * nb / n (std = sqrt(m2 / (n - 1))), and
    -- the quartiles of both parts' values when the import kept b's.
    SELECT
        measure_name, start_date, created_by, group1, group2, group3, duplicate,
        n, n_not_zero, total, lowest, highest, contributors,
        if(na = 0, avg_b, total / n)                                  AS mean,
        if(na = 0, std_b, if(n > 1, sqrt(if(nb = 0, m2a, m2a + m2b + (delta * delta * na * nb) / n) / (n - 1)), 0)) AS deviation,
        if(na = 0, quartiles_b, if(nb = 0 OR values_kept, quartiles_all, [NULL, NULL, NULL])) AS quartiles
    FROM
    (
        SELECT
            measure_name, start_date, created_by, group1, group2, group3, duplicate,
            sum(part_count)                                           AS n,
            sum(part_count_not_zero)                                  AS n_not_zero,
            sum(part_sum)                                             AS total,
            min(part_min)                                             AS lowest,
            max(part_max)                                             AS highest,
            sum(part_contributors)                                    AS contributors,
            sumIf(part_count, NOT imported)                           AS na,
            sumIf(part_count, imported)                               AS nb,
            sumIf(part_m2, NOT imported)                              AS m2a,
            sumIf(part_m2, imported)                                  AS m2b,
            sumIf(part_sum, imported) / nb - sumIf(part_sum, NOT imported) / na AS delta,
            anyIf(part_avg, imported)                                 AS avg_b,
            anyIf(part_std, imported)                                 AS std_b,
            anyIf(part_quartiles, imported)                           AS quartiles_b,
            -- The import keeps a bucket's values all or none (0015): a state that holds any, holds them all.
            maxIf(part_values_kept, imported)                         AS values_kept,
            CAST(quantilesExactInclusiveIfMerge(0.25, 0.5, 0.75)(part_values), 'Array(Nullable(Float64))') AS quartiles_all
        FROM
        (
            -- States re-aggregated: parts merge lazily. The sample variance of one value is NaN: m2 0.
            SELECT
                measure_name, start_date, created_by, group1, group2, group3,
                toUInt8(0)                                            AS duplicate,
                false                                                 AS imported,
                sum(count)                                            AS part_count,
                sum(count_not_zero)                                   AS part_count_not_zero,
                sum(sum)                                              AS part_sum,
                min(min)                                              AS part_min,
                max(max)                                              AS part_max,
                if(part_count > 1, varSampStableMerge(var_state) * (part_count - 1), 0) AS part_m2,
                CAST(NULL, 'Nullable(Float64)')                       AS part_avg,
                CAST(NULL, 'Nullable(Float64)')                       AS part_std,
                CAST([NULL, NULL, NULL], 'Array(Nullable(Float64))')  AS part_quartiles,
                quantilesExactInclusiveIfMergeState(0.25, 0.5, 0.75)(quartiles_state) AS part_values,
                false                                                 AS part_values_kept,
                uniqExactIfMerge(contributors_state)                  AS part_contributors
            FROM aggregates
            GROUP BY measure_name, start_date, created_by, group1, group2, group3
            UNION ALL
            SELECT
                measure_name, start_date, created_by, group1, group2, group3, duplicate,
                true,
                count, count_not_zero, sum, min, max,
                if(count > 1, std * std * (count - 1), 0),
                CAST(avg, 'Nullable(Float64)'),
                CAST(std, 'Nullable(Float64)'),
                [first_quartile, median, third_quartile],
                quartiles_state,
                hex(quartiles_state) != '00',
                toUInt64(0)
            FROM imported_aggregates FINAL
        )
        GROUP BY measure_name, start_date, created_by, group1, group2, group3, duplicate
    )
) AS a
INNER JOIN
(
    SELECT * FROM measure_definitions FINAL WHERE readable
) AS d ON d.name = a.measure_name
WHERE if(d.threshold_on = 'contributors', a.contributors, a.n) >= d.aggregation_threshold;
