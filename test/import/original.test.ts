import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { roundQuartile } from '../../src/aggregates/format.ts'
import { postgresBin, startPostgres, type Postgres } from '../helpers/postgres.ts'
import { aggregateWhere, expectedRows, fillHistory, rawMeasures, round2, THROUGH, TOKENS } from './history.ts'
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
