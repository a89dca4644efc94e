// Bulk path for the read benchmark: fills raw_measures (and so, through the materialized view,
// the aggregates) with generated rows inside the engine, in its own process since the embedded
// engine binds one data directory per process. Usage: seed.ts <dataDir> <measureName> <rows>
import { openClickHouse } from '../src/clickhouse/client.ts'
import { migrate } from '../src/clickhouse/migrate.ts'
import { loadConfig } from '../src/config.ts'

const [dataDir, measureName, rows] = process.argv.slice(2)
const config = loadConfig({ env: {}, overrides: { dataDir } })
const clickhouse = await openClickHouse(config)
await migrate(clickhouse.client)
// 90 days of buckets x 3 createdBy x 20 x 5 groups (900 distinct keys, 310 of them in a 31-day
// range), values 0..999; no quartile states (see the README for their cost).
await clickhouse.client.command({
  query: `INSERT INTO raw_measures (measure_name, start_date, created_by, group1, group2, group3, value, with_quartiles, received_at)
    SELECT {name:String}, toDateTime('2022-01-01 00:00:00', 'UTC') + toIntervalDay(number % 90),
           ['ecolyo', 'app-b', 'app-c'][1 + number % 3], toString(intDiv(number, 3) % 20), toString(intDiv(number, 60) % 5), '',
           toFloat64(cityHash64(number) % 1000), false, now64(3)
    FROM numbers({rows:UInt64})`,
  query_params: { name: measureName, rows: Number(rows) },
  clickhouse_settings: { max_insert_threads: '2' },
})
await clickhouse.close()
