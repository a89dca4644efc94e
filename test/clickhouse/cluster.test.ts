import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openClickHouse, type ClickHouse } from '../../src/clickhouse/client.ts'
import { renderForCluster } from '../../src/clickhouse/cluster.ts'
import { readMigrations, SCHEMA_MIGRATIONS } from '../../src/clickhouse/migrate.ts'
import { testConfig } from '../helpers/server.ts'

type Context = { clickhouse: ClickHouse }
const test = suite<Context>('renderForCluster', {} as Context)

// The embedded engine cannot run cluster DDL, but its parser checks it without running it.
test.before(async (context) => {
  context.clickhouse = await openClickHouse(testConfig())
})
test.after(async ({ clickhouse }) => clickhouse.close())

async function format({ clickhouse }: Context, statement: string): Promise<string> {
  const result = await clickhouse.client.query({
    query: 'SELECT formatQuery({q:String}) AS q',
    query_params: { q: statement },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ q: string }>()
  return row.q
}

const statements = [SCHEMA_MIGRATIONS, ...readMigrations().flatMap((migration) => migration.statements)]
const [, raw, aggregates, view] = statements
const PATH = (table: string) => `'/clickhouse/tables/{shard}/{database}/${table}_local', '{replica}'`
const GROUP_KEY = 'cityHash64(measure_name, created_by, group1, group2, group3)'

/** The single-server statement back from a rendered one: names, ON CLUSTER and engine undone. */
const undo = (sql: string) =>
  sql
    .replace(' ON CLUSTER c1', '')
    .replace(/Replicated(\w*)MergeTree\('[^']*', '\{replica\}'\)/, '$1MergeTree')
    .replace(/\b(\w+)_local\b/g, '$1')

test('every migration renders to statements that run ON CLUSTER and parse', async (context) => {
  assert.ok(readMigrations().every((migration) => migration.statements.length > 0))
  for (const statement of statements) {
    for (const rendered of renderForCluster(statement, 'c1')) {
      assert.match(
        await format(context, rendered),
        /^(CREATE (TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS|ALTER TABLE|DROP VIEW IF EXISTS) \w+ ON CLUSTER c1\b/,
      )
    }
  }
})

test('a MergeTree table becomes a replicated local table, columns, comments and clauses kept', async (context) => {
  for (const [statement, table, engine] of [
    [SCHEMA_MIGRATIONS, 'schema_migrations', 'ReplicatedMergeTree'],
    [raw, 'raw_measures', 'ReplicatedMergeTree'],
    [aggregates, 'aggregates', 'ReplicatedAggregatingMergeTree'],
  ]) {
    const local = await format(context, renderForCluster(statement, 'c1')[0])
    assert.ok(local.startsWith(`CREATE TABLE IF NOT EXISTS ${table}_local ON CLUSTER c1\n`), local)
    assert.ok(local.includes(`\nENGINE = ${engine}(${PATH(table)})\n`), local)
    assert.is(undo(local), await format(context, statement))
  }
})

test('Distributed tables shard measure tables by group, others by their sorting key, and keep the table comment', async (context) => {
  const distributed = (statement: string) => format(context, renderForCluster(statement, 'c1')[1])
  assert.is(
    await distributed(SCHEMA_MIGRATIONS),
    'CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER c1 AS schema_migrations_local\n' +
      'ENGINE = Distributed(c1, currentDatabase(), schema_migrations_local, cityHash64(version))',
  )
  for (const [statement, table] of [
    [raw, 'raw_measures'],
    [aggregates, 'aggregates'],
  ]) {
    const comment = /\nCOMMENT '.*'$/.exec(await format(context, statement))![0]
    assert.is(
      await distributed(statement),
      `CREATE TABLE IF NOT EXISTS ${table} ON CLUSTER c1 AS ${table}_local\n` +
        `ENGINE = Distributed(c1, currentDatabase(), ${table}_local, ${GROUP_KEY})${comment}`,
    )
  }
})

test('the materialized view reads and writes the shard-local tables', async (context) => {
  const rendered = renderForCluster(view, 'c1')
  assert.is(rendered.length, 1)
  const formatted = await format(context, rendered[0])
  assert.ok(
    formatted.startsWith('CREATE MATERIALIZED VIEW IF NOT EXISTS aggregates_mv ON CLUSTER c1 TO aggregates_local\n'),
    formatted,
  )
  assert.ok(formatted.includes('\nFROM raw_measures_local\n'), formatted)
  assert.is(undo(formatted), await format(context, view))
  // Only the top-level FROM names the source: a FROM inside parentheses belongs to a function.
  const extract = 'CREATE MATERIALIZED VIEW v TO a AS SELECT extract(DAY FROM start_date) AS day FROM raw_measures'
  assert.is(
    await format(context, renderForCluster(extract, 'c1')[0]),
    'CREATE MATERIALIZED VIEW v ON CLUSTER c1 TO a_local\nAS SELECT toDayOfMonth(start_date) AS day\nFROM raw_measures_local',
  )
})

test('with no cluster, every statement is returned unchanged', () => {
  for (const statement of statements) assert.equal(renderForCluster(statement, ''), [statement])
})

test('engine parameters follow the replication ones; comments and strings do not match', async (context) => {
  const statement = `-- CREATE TABLE decoy (ENGINE = Memory
CREATE TABLE t (v UInt32 COMMENT 'ENGINE = Log (', x String) ENGINE = ReplacingMergeTree(v) ORDER BY x`
  const [local, distributed] = await Promise.all(renderForCluster(statement, 'c1').map((sql) => format(context, sql)))
  assert.ok(local.includes(`ENGINE = ReplicatedReplacingMergeTree(${PATH('t')}, v)`), local)
  assert.ok(local.includes("`v` UInt32 COMMENT 'ENGINE = Log ('"), local)
  assert.is(
    distributed,
    'CREATE TABLE t ON CLUSTER c1 AS t_local\nENGINE = Distributed(c1, currentDatabase(), t_local, cityHash64(x))',
  )
})

test('ALTER TABLE changes the local table, and the Distributed one too when it changes columns', async (context) => {
  const column = `-- ALTER TABLE decoy
ALTER TABLE raw_measures ADD COLUMN IF NOT EXISTS c UInt64 DEFAULT 0 COMMENT 'ALTER TABLE x' AFTER value`
  const [local, distributed] = await Promise.all(renderForCluster(column, 'c1').map((sql) => format(context, sql)))
  assert.ok(local.startsWith('ALTER TABLE raw_measures_local ON CLUSTER c1\n'), local)
  assert.ok(distributed.startsWith('ALTER TABLE raw_measures ON CLUSTER c1\n'), distributed)
  for (const rendered of [local, distributed]) assert.is(undo(rendered), await format(context, column))
  const index = 'ALTER TABLE raw_measures ADD INDEX IF NOT EXISTS i c TYPE bloom_filter GRANULARITY 1'
  assert.equal(renderForCluster(index, 'c1'), [
    'ALTER TABLE raw_measures_local ON CLUSTER c1 ADD INDEX IF NOT EXISTS i c TYPE bloom_filter GRANULARITY 1',
  ])
  for (const clause of ['DROP COLUMN c', 'MODIFY COLUMN c String', 'RENAME COLUMN c TO d']) {
    assert.is(renderForCluster(`ALTER TABLE aggregates ${clause}`, 'c1').length, 2, clause)
  }
})

test('a recreated view is dropped and created on every node, over the local tables', async (context) => {
  const recreated = readMigrations()
    .flatMap((migration) => migration.statements)
    .filter((statement) => /^(DROP VIEW|CREATE MATERIALIZED VIEW)/m.test(statement))
  const rendered = await Promise.all(
    recreated.flatMap((statement) => renderForCluster(statement, 'c1')).map((sql) => format(context, sql)),
  )
  assert.ok(rendered.includes('DROP VIEW IF EXISTS aggregates_mv ON CLUSTER c1'), rendered.join('\n'))
  for (const create of rendered.filter((sql) => sql.startsWith('CREATE'))) {
    assert.ok(
      create.startsWith('CREATE MATERIALIZED VIEW IF NOT EXISTS aggregates_mv ON CLUSTER c1 TO aggregates_local\n'),
      create,
    )
    assert.ok(create.includes('\nFROM raw_measures_local\n'), create)
  }
})

test('a statement it cannot render is refused, not passed through', () => {
  assert.throws(() => renderForCluster('DROP TABLE raw_measures', 'c1'), /extend src\/clickhouse\/cluster\.ts/)
  assert.throws(() => renderForCluster('RENAME TABLE a TO b', 'c1'), /extend src\/clickhouse\/cluster\.ts/)
  assert.throws(() => renderForCluster('CREATE TABLE t (x String) ENGINE = Memory', 'c1'), /not a MergeTree/)
})

test.run()
