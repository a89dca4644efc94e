// Bulk path for the read benchmarks: fills raw_measures (and so, through the materialized view,
// the aggregates) with generated rows inside the engine, in its own process since the embedded
// engine binds one data directory per process.
// Usage: seed.ts <dataDir> <measureName> <rows> <days> <groups> [quartiles]
// Rows are spread evenly over `days` daily buckets from 2022-01-01 and `groups` group1 values
// (days × groups stored buckets), values 0..999.
import { openClickHouse } from '../src/clickhouse/client.ts'
import { migrate } from '../src/clickhouse/migrate.ts'
import { loadConfig } from '../src/config.ts'

const [dataDir, measureName, rows, days, groups, quartiles] = process.argv.slice(2)
const config = loadConfig({ env: {}, overrides: { dataDir } })
const clickhouse = await openClickHouse(config)
await migrate(clickhouse.client)
await clickhouse.client.command({
  query: `INSERT INTO raw_measures (measure_name, start_date, created_by, group1, group2, group3, value, with_quartiles, received_at)
    SETTINGS insert_deduplicate = 0, max_insert_threads = 2
    SELECT {name:String}, toDateTime('2022-01-01 00:00:00', 'UTC') + toIntervalDay(number % {days:UInt32}),
           'ecolyo', concat('device-', toString(intDiv(number, {days:UInt32}) % {groups:UInt32})), '', '',
           toFloat64(cityHash64(number) % 1000), {quartiles:Bool}, now64(3)
    FROM numbers({rows:UInt64})`,
  query_params: {
    name: measureName,
    rows: Number(rows),
    days: Number(days),
    groups: Number(groups),
    quartiles: quartiles === 'quartiles',
  },
})
// Merged as a server that has run a while has them: the reads are measured without the
// background merges that a fresh bulk load would start in the measured server.
for (const table of ['raw_measures', 'aggregates'])
  await clickhouse.client.command({ query: `OPTIMIZE TABLE ${table} FINAL` })
await clickhouse.close()
