import type pg from 'pg'
import { roundQuartile } from '../../src/aggregates/format.ts'

// A history of the original service in its PostgreSQL tables (../shared/original-db.md), made the
// way the original made it (test/import/original.test.ts imports it), and the answers it implies.

const SCHEMA = `
  CREATE TABLE measure_definition (
    id serial PRIMARY KEY, name varchar(100) UNIQUE, org varchar(50), created_by varchar(100),
    group1_key varchar(100), group2_key varchar(100), group3_key varchar(100), description text,
    aggregation_period varchar(50), execution_frequency varchar(50), aggregation_threshold int DEFAULT 5,
    access_app bool, access_public bool, with_quartiles bool DEFAULT false, max_days_to_update_quartile int DEFAULT 100);
  CREATE TABLE auth (id serial PRIMARY KEY, org varchar(100), token varchar(200));
  CREATE TABLE raw_measure (
    id serial PRIMARY KEY, measure_name varchar(100), value numeric(12,2), start_date timestamp,
    last_updated timestamp DEFAULT now(), aggregation_period varchar(100), created_by varchar(100),
    group1 jsonb, group2 jsonb, group3 jsonb);
  CREATE TABLE aggregation (
    id serial PRIMARY KEY, measure_name varchar(100), start_date timestamp, created_by varchar(100),
    group1 jsonb, group2 jsonb, group3 jsonb, count int, count_not_zero int,
    sum numeric(12,2), min numeric(12,2), max numeric(12,2), avg numeric(12,2), std numeric(12,2),
    median numeric(12,2), first_quartile numeric(12,2), third_quartile numeric(12,2),
    last_updated timestamp, last_raw_measures_purged timestamp);
  CREATE TABLE aggregation_date (
    id serial PRIMARY KEY, measure_definition_id int REFERENCES measure_definition (id) ON DELETE CASCADE,
    last_aggregated_measure_date timestamp);
  CREATE TABLE refused_raw_measure (LIKE raw_measure);`

const DEFINITIONS = `
  INSERT INTO measure_definition (name, org, created_by, group1_key, group2_key, group3_key, description, aggregation_period, execution_frequency, aggregation_threshold, access_app, access_public, with_quartiles)
  VALUES ('konnector-event-daily', 'cozy', 'ecolyo', 'slug', 'event_type', 'status', 'Konnector events', 'day', 'day', 3, true, false, false),
         ('connection-count-daily', 'cozy', 'ecolyo', 'device', NULL, NULL, 'Connections', 'day', 'day', 1, true, false, false),
         ('energy-consumption-monthly', 'cozy', 'ecolyo', 'fluid', NULL, NULL, 'Consumption', 'month', 'month', 2, false, true, true),
         ('never-aggregated', 'cozy', NULL, NULL, NULL, NULL, NULL, 'day', 'day', 2, true, NULL, NULL),
         ('unpublished', 'cozy', NULL, NULL, NULL, NULL, 'No threshold set', 'day', 'day', NULL, true, false, false)`

export const TOKENS = [
  '3f2b8c1e-6a47-4d8e-9b1c-2e5f7a9d0c11',
  '9a1d3e5f-7b2c-4e6a-8d0f-1c3b5a7e9d22',
  'c4e6a8b0-d2f4-4a6c-8e0b-2d4f6a8c0e33',
]
export const THROUGH = '2022-04-01 00:00:00' // the original's last aggregation run, for every measure but never-aggregated

/** The original's aggregation cron, in SQL as it ran: one row per key, NUMERIC(12,2) rounding, the known defect on one key. */
export const aggregateWhere = (where: string) => `
  INSERT INTO aggregation (measure_name, start_date, created_by, group1, group2, group3, count, count_not_zero, sum, min, max, avg, std, median, first_quartile, third_quartile, last_updated)
  SELECT r.measure_name, r.start_date, r.created_by, r.group1, r.group2, r.group3, count(*), count(*) FILTER (WHERE r.value <> 0),
    sum(r.value), min(r.value), max(r.value), avg(r.value), coalesce(stddev_samp(r.value), 0),
    CASE WHEN d.with_quartiles THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY r.value::float8) END,
    CASE WHEN d.with_quartiles THEN percentile_cont(0.25) WITHIN GROUP (ORDER BY r.value::float8) END,
    CASE WHEN d.with_quartiles THEN percentile_cont(0.75) WITHIN GROUP (ORDER BY r.value::float8) END,
    now()
  FROM raw_measure r JOIN measure_definition d ON d.name = r.measure_name
  WHERE ${where}
  -- The defect: measures without createdBy of one bucket aggregated by two runs, as two rows of one key.
  GROUP BY r.measure_name, d.with_quartiles, r.start_date, r.created_by, r.group1, r.group2, r.group3,
    CASE WHEN r.created_by IS NULL AND r.start_date = '2022-01-10' THEN r.id / 2 % 2 ELSE 0 END`

/** Raw measures of `measure`: `count` of them over `days` days from `from`, received `received`. */
export const rawMeasures = (
  measure: string,
  count: number,
  from: string,
  days: number,
  received: string,
  groups: string,
  createdBy = "CASE WHEN i % 7 = 0 THEN NULL ELSE 'ecolyo' END",
) => `
  INSERT INTO raw_measure (measure_name, value, start_date, last_updated, created_by, group1, group2, group3)
  SELECT '${measure}', ((i * 7919) % 4000) / 100.0, timestamp '${from}' + (i % ${days}) * interval '1 day', ${received}, ${createdBy}, ${groups}
  FROM generate_series(1, ${count}) AS i`

// Group values vary independently of the day (i % days): moduli prime to the days' counts.
const KONNECTOR = `jsonb_build_object('slug', (ARRAY['enedis', 'grdf', 'egl'])[i % 11 % 3 + 1]), jsonb_build_object('event_type', CASE WHEN i % 2 = 0 THEN 'connection' ELSE 'refresh' END), jsonb_build_object('status', CASE WHEN i % 13 = 0 THEN 'error' ELSE 'success' END)`
const DEVICE = `jsonb_build_object('device', (ARRAY['desktop', 'mobile', 'tablet'])[i % 11 % 3 + 1]), NULL, NULL`
const FLUID = `jsonb_build_object('fluid', (ARRAY['electricity', 'gas', 'water'])[i % 13 % 3 + 1]), NULL, NULL`
const DAY_AFTER = `timestamp '2022-01-01' + (i % 75) * interval '1 day' + interval '1 day'`

export async function fillHistory(db: pg.Client): Promise<void> {
  await db.query(SCHEMA)
  await db.query(DEFINITIONS)
  await db.query(
    `INSERT INTO auth (org, token) VALUES ('acme', '${TOKENS[0]}'), ('acme', '${TOKENS[1]}'), ('other', '${TOKENS[2]}')`,
  )
  // Received and aggregated before THROUGH.
  await db.query(rawMeasures('konnector-event-daily', 12000, '2022-01-01', 75, DAY_AFTER, KONNECTOR))
  await db.query(rawMeasures('connection-count-daily', 3000, '2022-01-01', 75, DAY_AFTER, DEVICE))
  await db.query(rawMeasures('energy-consumption-monthly', 1500, '2022-01-01', 75, DAY_AFTER, FLUID))
  await db.query(rawMeasures('unpublished', 500, '2022-01-01', 75, DAY_AFTER, 'NULL, NULL, NULL'))
  await db.query(aggregateWhere(`r.last_updated <= '${THROUGH}'`))
  // compute-wildcard-aggregate snapshots from February on: {"device": "*"}.
  await db.query(`
    INSERT INTO aggregation (measure_name, start_date, created_by, group1, count, count_not_zero, sum, min, max, avg, std, last_updated)
    SELECT measure_name, start_date, created_by, '{"device": "*"}', count(*), count(*) FILTER (WHERE value <> 0), sum(value), min(value), max(value), avg(value), coalesce(stddev_samp(value), 0), now()
    FROM raw_measure WHERE measure_name = 'connection-count-daily' AND start_date >= '2022-02-01' GROUP BY measure_name, start_date, created_by`)
  await db.query(`
    INSERT INTO aggregation_date (measure_definition_id, last_aggregated_measure_date)
    SELECT id, '${THROUGH}' FROM measure_definition WHERE name <> 'never-aggregated'`)
  // Purges: whole buckets, and part of some (raw rows left only for audit); as the original's, they
  // mark the aggregation rows of what they delete.
  for (const where of [
    `r.measure_name = 'konnector-event-daily' AND (r.start_date < '2022-02-01' OR (r.start_date < '2022-03-01' AND r.id % 3 = 0))`,
    `r.measure_name = 'connection-count-daily' AND r.start_date < '2022-03-01'`,
    `r.measure_name = 'energy-consumption-monthly' AND r.start_date < '2022-02-15'`,
    `r.measure_name = 'unpublished'`,
  ]) {
    await db.query(`
      UPDATE aggregation a SET last_raw_measures_purged = now() FROM raw_measure r
      WHERE ${where} AND a.measure_name = r.measure_name AND a.start_date = r.start_date AND a.created_by IS NOT DISTINCT FROM r.created_by
        AND a.group1 IS NOT DISTINCT FROM r.group1 AND a.group2 IS NOT DISTINCT FROM r.group2 AND a.group3 IS NOT DISTINCT FROM r.group3;
      DELETE FROM raw_measure r WHERE ${where}`)
  }
  // Received after the last aggregation run: late measures of old buckets, and new buckets.
  const after = (days: number) => `timestamp '2022-04-02' + (i % ${days}) * interval '1 hour'`
  await db.query(rawMeasures('konnector-event-daily', 600, '2022-01-05', 80, after(48), KONNECTOR))
  await db.query(rawMeasures('konnector-event-daily', 25, '2022-01-10', 1, after(5), KONNECTOR, 'NULL'))
  await db.query(rawMeasures('connection-count-daily', 300, '2022-04-01', 10, after(48), DEVICE))
  await db.query(rawMeasures('energy-consumption-monthly', 200, '2022-03-20', 20, after(48), FLUID))
  // Late measures of quartile buckets: some whose raw measures were purged, most whose were not.
  await db.query(rawMeasures('energy-consumption-monthly', 120, '2022-02-10', 30, after(48), FLUID))
  await db.query(rawMeasures('never-aggregated', 400, '2022-03-01', 45, after(48), 'NULL, NULL, NULL'))
}

// The answer computed from the PostgreSQL tables: the original's rows over the threshold, values as
// stored, plus the raw measures it had not aggregated yet (merged into the bucket's first row:
// counts, sum, min, max exactly, avg from them, std by the parallel formula; quartiles by
// percentile_cont over every raw measure of the bucket where the original still had them all, as
// it recomputed them, else none).
/** `merged`: a stored row with measures received since. */
type Expected = Record<string, unknown> & { computed: boolean; merged: boolean; count: number }

const GROUP_VALUES = `coalesce(x.group1 ->> d.group1_key, '') AS group1, coalesce(x.group2 ->> d.group2_key, '') AS group2, coalesce(x.group3 ->> d.group3_key, '') AS group3`
const key = (row: Record<string, unknown>) =>
  [row.measure_name, row.start_date, row.created_by, row.group1, row.group2, row.group3].join('\0')
export const round2 = (value: number) => (Math.sign(value) * Math.round(Math.abs(value) * 100)) / 100

export async function expectedRows(db: pg.Client): Promise<{ rows: Expected[]; wildcard: Record<string, unknown>[] }> {
  const definitions = new Map((await db.query('SELECT * FROM measure_definition')).rows.map((row) => [row.name, row]))
  const stored = (
    await db.query(`
      SELECT x.id, x.measure_name, to_char(x.start_date, 'YYYY-MM-DD"T"HH24:MI:SS') AS start_date, coalesce(x.created_by, '') AS created_by, ${GROUP_VALUES},
        x.count, x.count_not_zero, x.sum::float8, x.min::float8, x.max::float8, x.avg::float8, x.std::float8,
        x.first_quartile::float8, x.median::float8, x.third_quartile::float8, x.last_raw_measures_purged IS NOT NULL AS purged
      FROM aggregation x JOIN measure_definition d ON d.name = x.measure_name ORDER BY x.measure_name, x.start_date, x.id`)
  ).rows
  const THROUGH_OF = `LEFT JOIN (SELECT measure_definition_id AS id, max(last_aggregated_measure_date) AS through FROM aggregation_date GROUP BY 1) a ON a.id = d.id`
  // Every raw measure of a bucket: how many the original had counted in its row, and their quartiles with the later ones.
  const whole = new Map(
    (
      await db.query(`
        SELECT x.measure_name, to_char(x.start_date, 'YYYY-MM-DD"T"HH24:MI:SS') AS start_date, coalesce(x.created_by, '') AS created_by, ${GROUP_VALUES},
          (count(*) FILTER (WHERE x.last_updated <= a.through))::int AS aggregated,
          percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY x.value::float8) AS quartiles
        FROM raw_measure x JOIN measure_definition d ON d.name = x.measure_name ${THROUGH_OF}
        GROUP BY 1, 2, 3, 4, 5, 6`)
    ).rows.map((row) => [key(row), row]),
  )
  const fresh = (
    await db.query(`
      SELECT x.measure_name, to_char(x.start_date, 'YYYY-MM-DD"T"HH24:MI:SS') AS start_date, coalesce(x.created_by, '') AS created_by, ${GROUP_VALUES},
        count(*)::int AS count, (count(*) FILTER (WHERE x.value <> 0))::int AS count_not_zero, sum(x.value)::float8 AS sum,
        min(x.value)::float8 AS min, max(x.value)::float8 AS max, coalesce(var_samp(x.value::float8), 0) AS variance,
        percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY x.value::float8) AS quartiles
      FROM raw_measure x JOIN measure_definition d ON d.name = x.measure_name ${THROUGH_OF}
      WHERE a.through IS NULL OR x.last_updated > a.through
      GROUP BY 1, 2, 3, 4, 5, 6`)
  ).rows
  const isWildcard = (row: Record<string, unknown>) => [row.group1, row.group2, row.group3].includes('*')
  const rows = new Map<string, Record<string, number | string | boolean | null>>()
  for (const row of stored.filter((row) => !isWildcard(row))) {
    let dup = 0
    while (rows.has(`${key(row)}\0${dup}`)) dup++
    rows.set(`${key(row)}\0${dup}`, { ...row, computed: false, merged: false })
  }
  for (const row of fresh) {
    const first = rows.get(`${key(row)}\0${0}`)
    if (!first) {
      const count = row.count as number
      rows.set(`${key(row)}\0${0}`, {
        ...row,
        avg: row.sum / count,
        std: count > 1 ? Math.sqrt(row.variance) : 0,
        first_quartile: row.quartiles[0],
        median: row.quartiles[1],
        third_quartile: row.quartiles[2],
        computed: true,
        merged: false,
      })
      continue
    }
    const [a, b] = [first as Record<string, number>, row as Record<string, number>]
    const all = whole.get(key(row))
    const kept =
      definitions.get(row.measure_name).with_quartiles &&
      !first.purged &&
      !rows.has(`${key(row)}\0${1}`) &&
      all.aggregated === a.count
    const n = a.count + b.count
    const delta = b.sum / b.count - a.sum / a.count
    const m2 =
      (a.count > 1 ? a.std * a.std * (a.count - 1) : 0) +
      b.variance * (b.count - 1) +
      (delta * delta * a.count * b.count) / n
    rows.set(`${key(row)}\0${0}`, {
      ...first,
      count: n,
      count_not_zero: a.count_not_zero + b.count_not_zero,
      sum: a.sum + b.sum,
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max),
      avg: (a.sum + b.sum) / n,
      std: n > 1 ? Math.sqrt(m2 / (n - 1)) : 0,
      first_quartile: kept ? all.quartiles[0] : null,
      median: kept ? all.quartiles[1] : null,
      third_quartile: kept ? all.quartiles[2] : null,
      computed: true,
      merged: true,
    })
  }
  const expected: Expected[] = []
  for (const row of rows.values()) {
    const definition = definitions.get(row.measure_name)
    if (definition.aggregation_threshold === null || (row.count as number) < definition.aggregation_threshold) continue
    const fields: Record<string, unknown> = {
      avg: round2(row.avg as number),
      count: row.count,
      countNotZero: row.count_not_zero,
      createdBy: row.created_by || undefined,
      max: round2(row.max as number),
      measureName: row.measure_name,
      min: round2(row.min as number),
      startDate: row.start_date,
      std: round2(row.std as number),
      sum: round2(row.sum as number),
    }
    for (const [n, name] of [
      [1, 'group1'],
      [2, 'group2'],
      [3, 'group3'],
    ] as const) {
      if (definition[`group${n}_key`]) fields[name] = { [definition[`group${n}_key`]]: row[name] }
    }
    if (definition.with_quartiles && row.median !== null) {
      Object.assign(fields, {
        firstQuartile: roundQuartile(row.first_quartile as number),
        median: roundQuartile(row.median as number),
        thirdQuartile: roundQuartile(row.third_quartile as number),
      })
    }
    const present = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))
    expected.push({
      ...present,
      computed: row.computed as boolean,
      merged: row.merged as boolean,
      count: row.count as number,
    })
  }
  return { rows: expected, wildcard: stored.filter(isWildcard) }
}
