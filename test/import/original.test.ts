import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { roundQuartile } from '../../src/aggregates/format.ts'
import { postgresBin, startPostgres, type Postgres } from '../helpers/postgres.ts'
import { runCli, serveProcess, startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

// dacc import-original against a real PostgreSQL holding the original's tables (../shared/original-db.md),
// filled with a history made the way the original made it: raw measures, its aggregation cron (in
// SQL, as it did), its wildcard snapshots, its purges, its known duplicate-row defect, and raw
// measures received after its last aggregation run. Every /aggregate answer is then compared with
// the answer computed from the PostgreSQL tables.

// Where PostgreSQL is missing, the test is skipped with a note; under CI it must run (.ci/run installs it).
const bin = postgresBin()
const underCi = Boolean(process.env.CI) && process.env.CI !== 'false'
const skip = bin === null && !underCi

type Context = { server: TestServer; postgres: Postgres; db: pg.Client; env: Record<string, string>; answers: string[] }
const test = suite<Context>('dacc import-original', {} as Context)

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

const TOKENS = [
  '3f2b8c1e-6a47-4d8e-9b1c-2e5f7a9d0c11',
  '9a1d3e5f-7b2c-4e6a-8d0f-1c3b5a7e9d22',
  'c4e6a8b0-d2f4-4a6c-8e0b-2d4f6a8c0e33',
]
const THROUGH = '2022-04-01 00:00:00' // the original's last aggregation run, for every measure but never-aggregated

/** The original's aggregation cron, in SQL as it ran: one row per key, NUMERIC(12,2) rounding, the known defect on one key. */
const aggregateWhere = (where: string) => `
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
const rawMeasures = (
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

async function fillHistory(db: pg.Client): Promise<void> {
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
const round2 = (value: number) => (Math.sign(value) * Math.round(Math.abs(value) * 100)) / 100

async function expectedRows(db: pg.Client): Promise<{ rows: Expected[]; wildcard: Record<string, unknown>[] }> {
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

const MEASURES = [
  'konnector-event-daily',
  'connection-count-daily',
  'energy-consumption-monthly',
  'never-aggregated',
  'unpublished',
]
const MONTHS = ['2022-01', '2022-02', '2022-03', '2022-04', '2022-05']
const nextMonth = (month: string) =>
  month.endsWith('12')
    ? `${Number(month.slice(0, 4)) + 1}-01`
    : `${month.slice(0, 5)}${String(Number(month.slice(5)) + 1).padStart(2, '0')}`
const sortKey = (row: Record<string, unknown>) =>
  JSON.stringify([row.startDate, row.createdBy ?? '', row.group1, row.group2, row.group3, row.count, row.sum])

async function answer(
  server: Pick<TestServer, 'post'>,
  token: string,
  measureName: string,
  month: string,
): Promise<Record<string, unknown>[]> {
  const response = await server.post(
    '/aggregate',
    { measureName, startDate: `${month}-01`, endDate: `${nextMonth(month)}-01` },
    token,
  )
  assert.is(response.status, 200, `${measureName} ${month}`)
  return (await response.json()) as Record<string, unknown>[]
}

/** Every answer for every measure and month, as sent. */
async function allAnswers(server: Pick<TestServer, 'post'>, token: string): Promise<string[]> {
  const answers: string[] = []
  for (const measure of MEASURES)
    for (const month of MONTHS) answers.push(JSON.stringify(await answer(server, token, measure, month)))
  return answers
}

const isStar = (row: Record<string, unknown>) =>
  [row.group1, row.group2, row.group3].some((group) => group && Object.values(group).includes('*'))
const oneLine = (text: string) => text.trim().split('\n').length === 1

test.before(async (context) => {
  if (skip) return
  context.postgres = await startPostgres(bin!)
  context.db = new pg.Client({ connectionString: context.postgres.url })
  await context.db.connect()
  await fillHistory(context.db)
  context.server = await startTestServer()
  context.env = { DACC_DATA_DIR: context.server.config.dataDir }
})
test.after(async (context) => {
  await context.db?.end()
  context.postgres?.stop()
  await context.server?.close()
})

if (skip) {
  console.log(
    'NOTE: PostgreSQL is absent (/usr/lib/postgresql/*/bin), so the import test is skipped (apt-get install -y postgresql runs it; with CI=true it fails instead).',
  )
  test.skip('imports the original database')
} else {
  test('the original cron commands have nothing to do: one line each, exit 0', async ({ env }) => {
    for (const args of [
      ['compute-aggregation', 'konnector-event-daily', '-f'],
      ['compute-all-aggregations'],
      ['create-filtered-aggregation-view'],
      ['update-filtered-aggregation-view'],
    ]) {
      const { code, stdout, stderr } = await runCli(args, env)
      assert.is(code, 0, args.join(' '))
      assert.ok(oneLine(stdout) && /^Nothing to /.test(stdout), stdout)
      assert.is(stderr, '')
    }
  })

  test('a missing or wrong --postgres is one line, without the password', async ({ env, postgres }) => {
    const wrong = postgres.url.replace('original-secret', 'wrong-secret')
    for (const [args, message] of [
      [['import-original'], /^Error: --postgres <url> is required/],
      [['import-original', '--postgres', 'mysql://x@y/z'], /^Error: --postgres must be a URL such as postgresql:/],
      [
        ['import-original', '--postgres', wrong],
        /^Error: cannot read the original's database at postgresql:\/\/dacc@127\.0\.0\.1:\d+\/postgres: password authentication failed/,
      ],
    ] as const) {
      const { code, stdout, stderr } = await runCli([...args], env)
      assert.is(code, 1, args.join(' '))
      assert.ok(oneLine(stderr), stderr)
      assert.match(stderr, message)
      assert.not.ok((stdout + stderr).includes('secret'), stderr)
    }
  })

  test('refuses, in one line, a measure this store holds data of; --dry-run changes nothing', async (context) => {
    const { server, env } = context
    // This store already has a measure of its own for one of the original's measures (far from its dates).
    server.define({ name: 'never-aggregated', aggregationThreshold: 1, accessApp: true })
    assert.is(
      (
        await server.post(
          '/measure',
          { measureName: 'never-aggregated', value: 7, startDate: '2030-01-01' },
          await server.token(),
        )
      ).status,
      201,
    )
    await server.settled()
    const refused = await runCli(['import-original', '--postgres', context.postgres.url], env)
    assert.is(refused.code, 1)
    assert.ok(oneLine(refused.stderr), refused.stderr)
    assert.match(
      refused.stderr,
      /^Error: this store already holds measures of never-aggregated, not brought by an earlier import-original/,
    )
    assert.not.ok(refused.stdout.includes('original-secret'), 'the password is never printed')
    const dry = await runCli(['import-original', '--postgres', context.postgres.url, '--dry-run', '--force'], env)
    assert.is(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, /Dry run, nothing changed/)
    assert.match(dry.stdout, /\d+ bucket keys? with several rows in aggregation, each answered as a row of its own/)
    for (const result of [refused, dry]) {
      assert.equal(
        server.deps.definitions.list().map((record) => record.definition.name),
        ['never-aggregated'],
      )
      assert.is((await server.query('SELECT count() AS n FROM imported_aggregates'))[0].n, 0, result.stdout)
    }
  })

  test('imports with --force: every answer for every measure and month is the one computed from PostgreSQL', async (context) => {
    const { server, env, db } = context
    const started = performance.now()
    const { code, stdout, stderr } = await runCli(
      ['import-original', '--postgres', context.postgres.url, '--force'],
      env,
    )
    assert.is(code, 0, stderr)
    console.log(`import: ${Math.round(performance.now() - started)} ms\n${stdout}`)
    assert.match(stdout, /Imported:/)
    assert.match(stdout, /1 wildcard set \(connection-count-daily: group1 from 2022-02-01 00:00:00\)/)
    const token = await server.token(['aggregate:read'])
    const { rows: expected, wildcard } = await expectedRows(db)
    let compared = 0
    let mergedWithQuartiles = 0
    for (const measure of MEASURES) {
      for (const month of MONTHS) {
        const actual = (await answer(server, token, measure, month))
          .filter((row) => !isStar(row))
          .sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1))
        const wanted = expected
          .filter((row) => row.measureName === measure && String(row.startDate).startsWith(month))
          .sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1))
        assert.is(actual.length, wanted.length, `${measure} ${month}: rows`)
        actual.forEach((row, index) => {
          const { computed, merged, ...fields } = wanted[index]
          if (merged && fields.median !== undefined) mergedWithQuartiles++
          if (computed) {
            // Computed here from float sums and variances: the original's rounding, within a cent.
            // Quartiles are exact: percentile_cont's operations, on the same values.
            for (const stat of ['avg', 'std'].filter((stat) => fields[stat] !== undefined)) {
              assert.ok(
                Math.abs((row[stat] as number) - (fields[stat] as number)) <= 0.011,
                `${measure} ${month} ${stat}: ${row[stat]} vs ${fields[stat]}`,
              )
              row[stat] = fields[stat]
            }
          }
          assert.equal(row, fields, `${measure} ${month}`)
          compared++
        })
      }
    }
    assert.ok(compared > 500, `${compared} rows compared`)
    assert.ok(mergedWithQuartiles >= 10, `${mergedWithQuartiles} imported buckets with later measures have quartiles`)
    assert.equal(await answer(server, token, 'unpublished', '2022-01'), [], 'a NULL threshold published nothing')
    // The wildcard snapshots are now computed: equal where no measure came since, from February on.
    const stars = (await answer(server, token, 'connection-count-daily', '2022-03')).filter(isStar)
    const snapshots = wildcard.filter((row) => String(row.start_date).startsWith('2022-03'))
    assert.is(stars.length, snapshots.length)
    for (const snapshot of snapshots) {
      const star = stars.find(
        (row) => row.startDate === snapshot.start_date && (row.createdBy ?? '') === snapshot.created_by,
      )!
      assert.equal(
        [star.count, star.sum, star.min, star.max],
        [snapshot.count, snapshot.sum, snapshot.min, snapshot.max],
      )
    }
    assert.is((await answer(server, token, 'connection-count-daily', '2022-01')).filter(isStar).length, 0)
    assert.ok((await answer(server, token, 'connection-count-daily', '2022-04')).filter(isStar).length > 0)
    // Raw measures: all kept, those already aggregated kept out of the aggregates.
    const [raw] = await server.query<{ n: number; uncounted: number }>(
      'SELECT count() AS n, countIf(in_imported_aggregates) AS uncounted FROM raw_measures WHERE original_id > 0',
    )
    const [{ n, aggregated }] = (
      await db.query(
        `SELECT count(*)::int AS n, (count(*) FILTER (WHERE last_updated <= '${THROUGH}' AND measure_name <> 'never-aggregated'))::int AS aggregated FROM raw_measure`,
      )
    ).rows
    assert.equal([raw.n, raw.uncounted], [n, aggregated])
    context.answers = await allAnswers(server, token)
  })

  test('a second import changes nothing', async (context) => {
    const { server, env } = context
    const { code, stdout, stderr } = await runCli(['import-original', '--postgres', context.postgres.url], env)
    assert.is(code, 0, stderr)
    assert.match(stdout, /0 rows of 0 measures \(5 measures imported before: skipped\)/)
    assert.match(stdout, /0 raw measures: 0 already in aggregation/)
    assert.equal(await allAnswers(server, await server.token(['aggregate:read'])), context.answers)
  })

  for (const completer of ['the next import', "the server's start"]) {
    test(`an import killed between raw rows and their aggregates is completed by ${completer}`, async (context) => {
      const dataDir = tempDir()
      const env = { DACC_DATA_DIR: dataDir }
      const chunks = () => fs.readdirSync(path.join(dataDir, 'journal', 'original'))
      // Killed (SIGKILL) after the first chunk's raw rows are in, before their aggregate states (src/measures/faults.ts).
      const killed = await runCli(['import-original', '--postgres', context.postgres.url], {
        ...env,
        DACC_TEST_CRASH_AT: 'between-raw-and-aggregates',
      })
      assert.is(killed.code, null, `killed by its signal: ${killed.stderr}`)
      assert.is(chunks().length, 1, 'the chunk is left')
      const token = /: (\S+)$/.exec((await runCli(['token', 'create', 'reader'], env)).stdout.trim())![1]
      const served = completer === 'the next import' ? undefined : serveProcess(dataDir)
      if (served) {
        await served.url
        assert.match(served.output(), /completed the raw chunks of an interrupted import-original/)
      }
      // Run again (through the server's socket when it runs): the rest of the import.
      const again = await runCli(['import-original', '--postgres', context.postgres.url], env)
      assert.is(again.code, 0, again.stderr)
      assert.is(/^Completed 1 chunk of raw measures an interrupted import had left$/m.test(again.stdout), !served)
      assert.equal(chunks(), [])
      const server = served ?? serveProcess(dataDir)
      try {
        const url = await server.url
        const post = (route: string, body: object, bearer?: string) =>
          fetch(url + route, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
            body: JSON.stringify(body),
          })
        assert.equal(await allAnswers({ post }, token), context.answers, 'every answer as after an import never killed')
      } finally {
        server.child.kill('SIGTERM')
        await server.exited
      }
    })
  }

  test("the original's tokens post and read, are listed, and are revoked by token update", async ({
    server,
    env,
    postgres,
  }) => {
    for (const token of TOKENS.slice(0, 2)) {
      assert.is(
        (await server.post('/measure', { measureName: 'never-aggregated', value: 1, startDate: '2031-01-01' }, token))
          .status,
        201,
      )
      assert.is(
        (
          await server.post(
            '/aggregate',
            { measureName: 'never-aggregated', startDate: '2022-01-01', endDate: '2022-02-01' },
            token,
          )
        ).status,
        200,
      )
    }
    const listed = await runCli(['token', 'get', 'acme'], env)
    assert.is(
      listed.stdout
        .trim()
        .split('\n')
        .filter((line) => /^original-\w+ .* scopes measure:write,aggregate:read .* active$/.test(line)).length,
      2,
      listed.stdout,
    )
    assert.not.ok(listed.stdout.includes(TOKENS[0]))
    const rotated = await runCli(['token', 'update', 'other'], env)
    assert.is(rotated.code, 0)
    assert.is(
      (await server.post('/measure', { measureName: 'never-aggregated', value: 1, startDate: '2031-01-01' }, TOKENS[2]))
        .status,
      401,
    )
    // An import run again does not bring a revoked token back.
    assert.is((await runCli(['import-original', '--postgres', postgres.url], env)).code, 0)
    assert.is(
      (await server.post('/measure', { measureName: 'never-aggregated', value: 1, startDate: '2031-01-01' }, TOKENS[2]))
        .status,
      401,
    )
  })

  test('new measures into an imported bucket add up exactly', async ({ server, db }) => {
    const token = await server.token()
    const bucket = {
      measureName: 'konnector-event-daily',
      startDate: '2022-01-03',
      createdBy: 'ecolyo',
      group1: { slug: 'egl' },
      group2: { event_type: 'connection' },
      group3: { status: 'success' },
    }
    const inBucket = (row: Record<string, unknown>) =>
      row.startDate === '2022-01-03T00:00:00' &&
      row.createdBy === 'ecolyo' &&
      JSON.stringify([row.group1, row.group2, row.group3]) ===
        JSON.stringify([bucket.group1, bucket.group2, bucket.group3])
    const [before] = (await answer(server, token, bucket.measureName, '2022-01')).filter(inBucket)
    const [stored] = (
      await db.query(
        `SELECT count, sum::float8, min::float8, max::float8 FROM aggregation WHERE measure_name = $1 AND start_date = '2022-01-03' AND created_by = 'ecolyo' AND group1 = '{"slug": "egl"}' AND group2 = '{"event_type": "connection"}' AND group3 = '{"status": "success"}'`,
        [bucket.measureName],
      )
    ).rows
    assert.equal([before.count, before.sum, before.min, before.max], [stored.count, stored.sum, stored.min, stored.max])
    for (const value of [-5, 100.5]) assert.is((await server.post('/measure', { ...bucket, value }, token)).status, 201)
    const [after] = (await answer(server, token, bucket.measureName, '2022-01')).filter(inBucket)
    assert.equal(
      [after.count, after.sum, after.min, after.max, after.avg],
      [stored.count + 2, round2(stored.sum + 95.5), -5, 100.5, round2((stored.sum + 95.5) / (stored.count + 2))],
    )
  })

  test('a quartile bucket the original had every raw measure of: its stored quartiles, then percentile_cont of all its measures as new ones come; periods too', async ({
    server,
    db,
  }) => {
    const token = await server.token()
    const measureName = 'energy-consumption-monthly'
    // A bucket aggregated by the original, none of its raw measures purged, none received since.
    const [bucket] = (
      await db.query(`
        SELECT to_char(x.start_date, 'YYYY-MM-DD') AS day, x.created_by, x.group1 ->> 'fluid' AS fluid,
          x.first_quartile::float8, x.median::float8, x.third_quartile::float8
        FROM aggregation x
        WHERE x.measure_name = '${measureName}' AND x.last_raw_measures_purged IS NULL AND x.created_by = 'ecolyo' AND x.count > 3
          AND NOT EXISTS (SELECT FROM raw_measure r WHERE r.measure_name = x.measure_name AND r.start_date = x.start_date
                          AND r.created_by = x.created_by AND r.group1 = x.group1 AND r.last_updated > '${THROUGH}')
        ORDER BY x.start_date, x.group1 ->> 'fluid' LIMIT 1`)
    ).rows
    const inBucket = (row: Record<string, unknown>) =>
      row.startDate === `${bucket.day}T00:00:00` &&
      row.createdBy === 'ecolyo' &&
      (row.group1 as { fluid: string }).fluid === bucket.fluid
    const quartilesOf = async () => {
      const [row] = (await answer(server, token, measureName, bucket.day.slice(0, 7))).filter(inBucket)
      return [row.firstQuartile, row.median, row.thirdQuartile]
    }
    assert.equal(await quartilesOf(), [bucket.first_quartile, bucket.median, bucket.third_quartile], 'as stored')
    const values: number[] = []
    for (const value of [1000, 0.01, 17.37]) {
      values.push(value)
      const measure = {
        measureName,
        value,
        startDate: bucket.day,
        createdBy: 'ecolyo',
        group1: { fluid: bucket.fluid },
      }
      assert.is((await server.post('/measure', measure, token)).status, 201)
      const [{ quartiles }] = (
        await db.query(
          `SELECT percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY v) AS quartiles FROM (
             SELECT value::float8 AS v FROM raw_measure WHERE measure_name = $1 AND start_date = $2 AND created_by = 'ecolyo' AND group1 ->> 'fluid' = $3
             UNION ALL SELECT unnest($4::float8[])) AS t`,
          [measureName, bucket.day, bucket.fluid, values],
        )
      ).rows
      assert.equal(await quartilesOf(), quartiles.map(roundQuartile), `with ${values.join(', ')}`)
    }
    // A month of such buckets has the quartiles of all their measures; one with a purged bucket, none.
    const monthly = async (month: string) =>
      (await (
        await server.post(
          '/aggregate',
          { measureName, startDate: `${month}-01`, endDate: `${nextMonth(month)}-01`, period: 'month' },
          token,
        )
      ).json()) as Record<string, unknown>[]
    const march = (
      await db.query(
        `SELECT coalesce(created_by, '') AS created_by, group1 ->> 'fluid' AS fluid,
           percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY v) AS quartiles FROM (
             SELECT created_by, group1, value::float8 AS v FROM raw_measure WHERE measure_name = $1 AND start_date >= '2022-03-01' AND start_date < '2022-04-01'
             UNION ALL SELECT 'ecolyo', jsonb_build_object('fluid', $2::text), unnest($3::float8[])) AS t
         GROUP BY 1, 2 ORDER BY 1, 2`,
        [measureName, bucket.fluid, bucket.day.startsWith('2022-03') ? values : []],
      )
    ).rows
    assert.equal(
      (await monthly('2022-03')).map((row) => [
        row.createdBy ?? '',
        (row.group1 as { fluid: string }).fluid,
        [row.firstQuartile, row.median, row.thirdQuartile],
      ]),
      march.map((row) => [row.created_by, row.fluid, row.quartiles.map(roundQuartile)]),
    )
    assert.ok(
      (await monthly('2022-01')).every((row) => row.median === undefined),
      'January: raw measures purged by the original',
    )
  })

  test('measures the original received after the import come with the next one, counted once, whatever its cron did since', async ({
    server,
    env,
    db,
    postgres,
  }) => {
    const token = await server.token(['aggregate:read'])
    const total = async () => {
      const response = await server.post(
        '/aggregate',
        { measureName: 'never-aggregated', startDate: '2022-01-01', endDate: '2023-01-01', period: 'year' },
        token,
      )
      return ((await response.json()) as { count: number }[]).reduce((sum, row) => sum + row.count, 0)
    }
    const before = await total()
    await db.query(rawMeasures('never-aggregated', 50, '2022-03-01', 45, `timestamp '2022-04-20'`, 'NULL, NULL, NULL'))
    // The original's cron ran again meanwhile: these are now in its aggregation rows too.
    await db.query(aggregateWhere(`r.measure_name = 'never-aggregated'`))
    await db.query(
      `INSERT INTO aggregation_date (measure_definition_id, last_aggregated_measure_date) SELECT id, '2022-04-21' FROM measure_definition WHERE name = 'never-aggregated'`,
    )
    const { code, stdout, stderr } = await runCli(['import-original', '--postgres', postgres.url], env)
    assert.is(code, 0, stderr)
    assert.match(stdout, /50 raw measures: 0 already in aggregation \(kept, not counted\), 50 counted/)
    assert.is(await total(), before + 50)
  })
}

test.run()
