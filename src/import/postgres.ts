import pg from 'pg'
import { firstLine, UsageError } from '../errors.ts'

/** A row of the original's measure_definition table (src/import/mapping.ts turns it into a Definition). */
export type DefinitionRow = {
  id: number
  name: string
  org: string | null
  created_by: string | null
  group1_key: string | null
  group2_key: string | null
  group3_key: string | null
  description: string | null
  aggregation_period: string | null
  execution_frequency: string | null
  aggregation_threshold: number | null
  access_app: boolean | null
  access_public: boolean | null
  with_quartiles: boolean | null
  max_days_to_update_quartile: number | null
}

/** JSONB, parsed: `{"<groupNKey>": value}`, or null. */
type JsonGroup = unknown

/** A row of the original's aggregation table; NUMERIC columns as their decimal text, TIMESTAMP as its text. */
export type BucketRow = {
  id: number
  measure_name: string
  start_date: string
  created_by: string | null
  group1: JsonGroup
  group2: JsonGroup
  group3: JsonGroup
  count: number | null
  count_not_zero: number | null
  sum: string | null
  min: string | null
  max: string | null
  avg: string | null
  std: string | null
  first_quartile: string | null
  median: string | null
  third_quartile: string | null
  /** Raw measures of the bucket were purged (its last_raw_measures_purged is set): its quartiles cannot be recomputed. */
  raw_purged: boolean
}

/** A row of the original's raw_measure table. */
export type RawRow = {
  id: number
  measure_name: string
  start_date: string
  /** Its arrival time at the original. */
  last_updated: string | null
  created_by: string | null
  group1: JsonGroup
  group2: JsonGroup
  group3: JsonGroup
  value: string | null
  /** Received up to the measure's `through`: already counted in its aggregation rows. */
  aggregated: boolean
  /** Received over an hour before the snapshot: no row of a lower id can still be on its way (see records.ts). */
  settled: boolean
}

/** What the raw rows of a measure to read start after: ids above `mark`; received after `through` are not yet aggregated. */
export type RawScope = { name: string; mark: number; through: string | null }

export type Original = {
  /** The URL without its password, for messages. */
  where: string
  definitions(): Promise<DefinitionRow[]>
  tokens(): Promise<{ id: number; org: string | null; token: string | null }[]>
  /** Per measure name, its last_aggregated_measure_date (`YYYY-MM-DD hh:mm:ss[.ffffff]`). */
  aggregatedThrough(): Promise<Map<string, string>>
  /** Aggregation rows per measure name. */
  bucketCounts(): Promise<Map<string, number>>
  /** Raw rows per measure name in scope, and how many of them were received up to `through`. */
  rawCounts(scopes: RawScope[]): Promise<Map<string, { total: number; aggregated: number }>>
  /** Rows of tables the definitions do not name: measures without a definition. */
  orphans(names: string[]): Promise<{ buckets: number; raw: number; names: string[] }>
  /** The aggregation rows of `names`, by measure, start date and id, a batch at a time. */
  buckets(names: string[]): AsyncGenerator<BucketRow[]>
  /** The raw rows in scope, by measure and id, a batch at a time. */
  raw(scopes: RawScope[]): AsyncGenerator<RawRow[]>
  close(): Promise<void>
}

const BATCH_ROWS = 10_000

// TIMESTAMP (no time zone) as PostgreSQL writes it: a wall-clock bucket, never shifted by a time
// zone (pg would make a local Date of it). NUMERIC stays text (pg's default), JSONB is parsed.
const TIMESTAMP_OID = 1114
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMP_OID
      ? (text: string) => text
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

/**
 * Opens the original's database at `url` and reads it in one REPEATABLE READ, READ ONLY
 * transaction: every table as of one instant, so that the original, still running (its cron
 * aggregating raw rows, its purges), cannot make the import see a raw measure both as aggregated
 * and as not yet. Large tables are read through a cursor, a batch at a time.
 */
export async function openOriginal(url: string): Promise<Original> {
  let where: string
  try {
    const parsed = new URL(url)
    if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw new Error('not a postgresql: URL')
    parsed.password = ''
    where = parsed.toString()
  } catch {
    throw new UsageError('--postgres must be a URL such as postgresql://user:password@host:5432/database')
  }
  const client = new pg.Client({ connectionString: url, types, application_name: 'dacc import-original' })
  // A connection lost while idle (the server restarted) is reported by the next query.
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  } catch (err) {
    await client.end().catch(() => undefined)
    throw new UsageError(`cannot read the original's database at ${where}: ${firstLine(err)}`)
  }
  const rows = async <T>(text: string, values: unknown[] = []): Promise<T[]> => {
    try {
      return (await client.query(text, values)).rows as T[]
    } catch (err) {
      // `relation "aggregation" does not exist`: not the original's database.
      throw new UsageError(`reading the original's database failed: ${firstLine(err)}`)
    }
  }
  let cursors = 0

  /** A cursor over `query`, whose values are literals (DECLARE takes no parameters): a batch at a time. */
  async function* batches<T>(query: string): AsyncGenerator<T[]> {
    const name = `dacc_import_${cursors++}`
    await rows(`DECLARE ${name} NO SCROLL CURSOR FOR ${query}`)
    try {
      for (;;) {
        const batch = await rows<T>(`FETCH FORWARD ${BATCH_ROWS} FROM ${name}`)
        if (batch.length === 0) return
        yield batch
      }
    } finally {
      await rows(`CLOSE ${name}`)
    }
  }
  const texts = (values: string[]) => `ARRAY[${values.map((value) => client.escapeLiteral(value)).join(', ')}]::text[]`
  const scopesTable = (scopes: RawScope[]) =>
    `unnest(${texts(scopes.map((scope) => scope.name))}, ARRAY[${scopes.map((scope) => String(Math.trunc(scope.mark))).join(', ')}]::bigint[], ` +
    `ARRAY[${scopes.map((scope) => (scope.through === null ? 'NULL' : client.escapeLiteral(scope.through))).join(', ')}]::timestamp[]) AS m(name, mark, through)`

  return {
    where,
    definitions: () => rows<DefinitionRow>('SELECT * FROM measure_definition ORDER BY id'),
    tokens: () =>
      rows<{ id: number; org: string | null; token: string | null }>('SELECT id, org, token FROM auth ORDER BY id'),
    async aggregatedThrough() {
      const result = await rows<{ name: string; through: string }>(
        `SELECT d.name, max(a.last_aggregated_measure_date) AS through
         FROM aggregation_date a JOIN measure_definition d ON d.id = a.measure_definition_id
         WHERE a.last_aggregated_measure_date IS NOT NULL GROUP BY d.name`,
      )
      return new Map(result.map((row) => [row.name, row.through]))
    },
    async bucketCounts() {
      const result = await rows<{ name: string; n: string }>(
        'SELECT measure_name AS name, count(*) AS n FROM aggregation GROUP BY measure_name',
      )
      return new Map(result.map((row) => [row.name, Number(row.n)]))
    },
    async rawCounts(scopes) {
      if (scopes.length === 0) return new Map()
      const result = await rows<{ name: string; total: string; aggregated: string }>(
        `SELECT m.name, count(*) AS total, count(*) FILTER (WHERE r.last_updated <= m.through) AS aggregated
         FROM raw_measure r JOIN ${scopesTable(scopes)} ON r.measure_name = m.name AND r.id > m.mark
         GROUP BY m.name`,
      )
      return new Map(result.map((row) => [row.name, { total: Number(row.total), aggregated: Number(row.aggregated) }]))
    },
    async orphans(names) {
      const [row] = await rows<{ buckets: string; raw: string; names: string[] }>(
        `SELECT (SELECT count(*) FROM aggregation WHERE measure_name IS NULL OR measure_name <> ALL($1)) AS buckets,
                (SELECT count(*) FROM raw_measure WHERE measure_name IS NULL OR measure_name <> ALL($1)) AS raw,
                ARRAY(SELECT DISTINCT coalesce(measure_name, '(null)') FROM (SELECT measure_name FROM aggregation UNION ALL SELECT measure_name FROM raw_measure) AS t
                      WHERE measure_name IS NULL OR measure_name <> ALL($1) ORDER BY 1 LIMIT 10) AS names`,
        [names],
      )
      return { buckets: Number(row.buckets), raw: Number(row.raw), names: row.names }
    },
    buckets: (names) =>
      batches<BucketRow>(
        `SELECT id, measure_name, start_date, created_by, group1, group2, group3, count, count_not_zero, sum, min, max, avg, std,
                first_quartile, median, third_quartile, last_raw_measures_purged IS NOT NULL AS raw_purged
         FROM aggregation WHERE measure_name = ANY(${texts(names)}) ORDER BY measure_name, start_date, id`,
      ),
    raw: (scopes) =>
      batches<RawRow>(
        `SELECT r.id, r.measure_name, r.start_date, r.last_updated, r.created_by, r.group1, r.group2, r.group3, r.value,
                coalesce(r.last_updated <= m.through, false) AS aggregated,
                coalesce(r.last_updated < LOCALTIMESTAMP - interval '1 hour', false) AS settled
         FROM raw_measure r JOIN ${scopesTable(scopes)} ON r.measure_name = m.name AND r.id > m.mark
         ORDER BY r.measure_name, r.id`,
      ),
    close: () => client.end(),
  }
}
