import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { clusterSettings, openClickHouse, type ClickHouse } from '../../src/clickhouse/client.ts'
import { renderForCluster, replicasPerShard } from '../../src/clickhouse/cluster.ts'
import { readMigrations, SCHEMA_MIGRATIONS } from '../../src/clickhouse/migrate.ts'
import { testConfig } from '../helpers/server.ts'

type Context = { clickhouse: ClickHouse }
const test = suite<Context>('cluster: rendered schema and settings', {} as Context)

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

test('inserts wait for a majority of the smallest shard, half the request timeout at most, several at once', () => {
  const quorum = (replicas: number[]) => clusterSettings(replicas, 30_000).insert_quorum
  // 2 of 2 (docker-compose.cluster.yml), 2 of 3; one replica a shard is no quorum (ClickHouse reads 1 as off).
  assert.equal([[2, 2], [3, 3], [4], [5, 5], [1, 1]].map(quorum), ['2', '2', '3', '3', '1'])
  // Shards of different sizes: a majority of the smallest, which every shard can reach.
  assert.is(quorum([3, 2]), '2')
  assert.is(clusterSettings([2], 30_000).insert_quorum_timeout, 15_000)
  assert.is(clusterSettings([2], 8_000).insert_quorum_timeout, 4_000)
  // select_sequential_consistency would need insert_quorum_parallel = 0, which refuses a second
  // instance's load while the first waits for its quorum: reads rely on load_balancing instead.
  assert.equal(clusterSettings([2], 30_000), {
    distributed_foreground_insert: 1,
    insert_quorum: '2',
    insert_quorum_timeout: 15_000,
    insert_quorum_parallel: 1,
    load_balancing: 'in_order',
    prefer_localhost_replica: 0,
  })
  assert.throws(() => clusterSettings([], 30_000), /at least one replica a shard/)
  assert.throws(() => clusterSettings([2, 0], 30_000), /at least one replica a shard/)
})

test('every cluster setting is one the engine knows, with a value it accepts', async ({ clickhouse }) => {
  const rendered = Object.entries(clusterSettings([2, 2], 30_000))
    .map(([name, value]) => `${name} = ${typeof value === 'string' ? `'${value}'` : value}`)
    .join(', ')
  const result = await clickhouse.client.query({
    query: `SELECT name, value FROM system.settings WHERE name IN ({names:Array(String)}) ORDER BY name SETTINGS ${rendered}`,
    query_params: { names: Object.keys(clusterSettings([2], 1)) },
    format: 'JSONEachRow',
  })
  // As the query ran with them: an unknown name or a bad value would have failed it.
  assert.equal(await result.json(), [
    { name: 'distributed_foreground_insert', value: '1' },
    { name: 'insert_quorum', value: '2' },
    { name: 'insert_quorum_parallel', value: '1' },
    { name: 'insert_quorum_timeout', value: '15000' },
    { name: 'load_balancing', value: 'in_order' },
    { name: 'prefer_localhost_replica', value: '0' },
  ])
  await clickhouse.client.query({ query: "SELECT 1 SETTINGS load_balancing = 'inorder'" }).then(
    () => assert.unreachable('a bad value fails the query'),
    (err) => assert.match(String(err), /LoadBalancing/),
  )
})

test("the replicas of a cluster's shards are read from system.clusters (the embedded engine lists none)", async ({
  clickhouse,
}) => {
  assert.equal(await replicasPerShard(clickhouse.client, 'c1'), [])
})

test.run()
