-- For data engineers with a sql:public token (src/sql/): which measures aggregates_public
-- publishes, and how to read their rows. The public columns of the definitions mirrored from
-- SQLite (0005), for the definitions whose rows aggregates_public shows, and nothing else: the
-- org, the access flags and the mirror's own bookkeeping stay out, as they stay out of
-- GET /definitions. Read with FINAL, as aggregates_public reads it: the latest version of each
-- name, the deleted ones left out.
CREATE VIEW IF NOT EXISTS definitions_public AS
SELECT
    name,
    group1_key,
    group2_key,
    group3_key,
    aggregation_threshold,
    threshold_on,
    with_quartiles,
    hide_extremes
FROM measure_definitions FINAL
WHERE readable;
