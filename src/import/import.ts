import { checkDefinitions, createDefinitions } from '../definitions/definitions.ts'
import { GROUPS, groupKeys, type Definition } from '../definitions/schema.ts'
import { UsageError } from '../errors.ts'
import type { RunOperation } from '../ops/operations.ts'
import type { Store } from '../store/store.ts'
import { createTokens } from '../tokens/tokens.ts'
import { createWildcards } from '../wildcards/wildcards.ts'
import { bucketOf, keyOf, toDefinition, toImportedBucket, wildcardGroups, type Key } from './mapping.ts'
import { CHUNK_ROWS, count, inOrder, progress, type ImportOptions, type Pass } from './pass.ts'
import type { Original, RawScope } from './postgres.ts'
import { importRaw } from './raw.ts'
import { createImportRecords } from './records.ts'

const MAX_DUPLICATE = 255

const plural = (n: number, noun: string) => `${count(n)} ${noun}${n === 1 ? '' : 's'}`
const sum = (values: Iterable<number>) => [...values].reduce((total, value) => total + value, 0)

/**
 * `dacc import-original` (docs/migration.md): reads the original's database in one snapshot and
 * brings over its definitions (SQLite), tokens (as hashes), aggregation rows (imported_aggregates:
 * final statistics, answered as stored), wildcard rows (as registered wildcard sets, computed from
 * now on) and raw measures (raw_measures: those its aggregation rows already count are kept out of
 * the aggregates). What it did per measure is recorded (records.ts), so a second run adds only
 * what the original received since. ClickHouse work goes through `run` (a running server's, if any).
 */
export async function importOriginal(
  original: Original,
  store: Store,
  run: RunOperation,
  options: ImportOptions,
): Promise<void> {
  const { print, dryRun } = options
  const definitions = createDefinitions(store)
  const records = createImportRecords(store)
  const done = records.all()
  const importedAt = new Date().toISOString().slice(0, 23).replace('T', ' ')

  print(`Reading the original's database at ${original.where} (one snapshot)`)
  const incoming = checkDefinitions(
    { definitions: (await original.definitions()).map(toDefinition) },
    'measure_definition table of the original',
  )
  // Fields of this service's own (privacy options) set here before are kept.
  const merged = incoming.map((definition) => ({ ...definitions.get(definition.name), ...definition }))
  const byName = new Map(merged.map((definition) => [definition.name, definition]))
  const names = [...byName.keys()]
  const tokens = (await original.tokens()).filter((row): row is { id: number; org: string; token: string } =>
    Boolean(row.org && row.token),
  )
  const through = await original.aggregatedThrough()
  const bucketCounts = await original.bucketCounts()
  const bucketsToDo = names.filter((name) => !done.get(name)?.bucketsDoneAt)
  // A measure whose buckets were imported before keeps the split of that snapshot (records.ts).
  const scopes: RawScope[] = names.map((name) => {
    const record = done.get(name)
    return {
      name,
      mark: record?.rawMark ?? 0,
      through: record?.bucketsDoneAt ? record.aggregatedThrough : (through.get(name) ?? null),
    }
  })
  const rawCounts = await original.rawCounts(scopes)
  const orphans = await original.orphans(names)

  const rawTotal = sum([...rawCounts.values()].map((counts) => counts.total))
  const rawAggregated = sum([...rawCounts.values()].map((counts) => counts.aggregated))
  const bucketTotal = sum(bucketsToDo.map((name) => bucketCounts.get(name) ?? 0))
  const newNames = names.filter((name) => !definitions.get(name))
  print('To import:')
  print(`  measure_definition  ${plural(names.length, 'definition')} (${count(newNames.length)} new here)`)
  print(
    `  auth                ${plural(tokens.length, 'token')} of ${plural(new Set(tokens.map((row) => row.org)).size, 'org')}`,
  )
  print(
    `  aggregation         ${plural(bucketTotal, 'row')} of ${plural(bucketsToDo.filter((name) => bucketCounts.has(name)).length, 'measure')}` +
      (bucketsToDo.length < names.length
        ? ` (${plural(names.length - bucketsToDo.length, 'measure')} imported before: skipped)`
        : ''),
  )
  print(
    `  aggregation_date    ${plural(through.size, 'high-water mark')}: raw measures received up to it are already in aggregation`,
  )
  print(
    `  raw_measure         ${plural(rawTotal, 'raw measure')}: ${count(rawAggregated)} already in aggregation (kept, not counted again), ${count(rawTotal - rawAggregated)} not yet aggregated (counted)`,
  )
  if (orphans.buckets + orphans.raw > 0) {
    print(
      `  not imported        ${plural(orphans.buckets, 'aggregation row')} and ${plural(orphans.raw, 'raw measure')} of measures without a definition: ${orphans.names.join(', ')}`,
    )
  }

  const target = await run('importTargetState', { names })
  const foreign = target.withData.filter((name) => !done.has(name))
  if (foreign.length > 0 && !options.force) {
    throw new UsageError(
      `this store already holds measures of ${foreign.join(', ')}, not brought by an earlier import-original: the original's would add up with them (--force imports anyway)`,
    )
  }

  let adopted = 0
  let upserted = { inserted: [] as string[], updated: [] as string[] }
  if (!dryRun) {
    upserted = definitions.upsert(merged)
    const registry = createTokens(store, options.signingKey)
    for (const row of tokens) if (registry.adopt(row.org, row.token)) adopted++
  }

  const wildcards = createWildcards(store)
  const buckets = await importBuckets(original, run, {
    ...options,
    byName,
    names: bucketsToDo,
    total: bucketTotal,
    through,
    importedAt,
    records: dryRun ? undefined : records,
    register: (set) => wildcards.register(set.name, set.groups.split(','), { fromDate: set.from }),
  })
  const raw = await importRaw(original, run, {
    ...options,
    byName,
    scopes,
    total: rawTotal,
    migrated: target.migrated,
    importedAt,
    records: dryRun ? undefined : records,
  })

  // Quartile buckets whose raw measures came whole keep their values, now that they are all in.
  const valued = names.filter(
    (name) => byName.get(name)!.withQuartiles && (bucketsToDo.includes(name) || raw.aggregatedOf.has(name)),
  )
  const values = { kept: 0, without: 0 }
  if (!dryRun) {
    for (const name of valued) {
      const counts = await run('keepImportedValues', { measure: name })
      values.kept += counts.kept
      values.without += counts.without
    }
  }

  print(dryRun ? 'Dry run, nothing changed. It would import:' : 'Imported:')
  print(
    `  measure_definition  ${plural(names.length, 'definition')}` +
      (dryRun
        ? ` (${count(newNames.length)} new here)`
        : ` (${count(upserted.inserted.length)} new, ${count(upserted.updated.length)} updated)`),
  )
  print(
    `  auth                ${plural(dryRun ? tokens.length : adopted, 'token')}, kept as hashes${dryRun ? '' : ` (${count(tokens.length - adopted)} known already)`}`,
  )
  print(
    `  aggregation         ${plural(buckets.rows, 'bucket row')}; ${plural(buckets.wildcardRows, 'wildcard row')} as ${plural(buckets.sets.length, 'wildcard set')}` +
      buckets.sets.map((set) => ` (${set.name}: ${set.groups} from ${set.from})`).join('') +
      (buckets.skipped ? `; ${plural(buckets.skipped, 'row')} skipped (no count, or a date outside 1970 to 2105)` : ''),
  )
  if (buckets.duplicates.length > 0) {
    const shown = buckets.duplicates.slice(0, 5).join('; ')
    const more = buckets.duplicates.length > 5 ? ` and ${count(buckets.duplicates.length - 5)} more` : ''
    print(
      `  known defect        ${plural(buckets.duplicates.length, 'bucket key')} with several rows in aggregation, each answered as a row of its own as the original did: ${shown}${more}`,
    )
  }
  print(
    `  raw_measure         ${plural(raw.aggregated + raw.counted, 'raw measure')}: ${count(raw.aggregated)} already in aggregation (kept, not counted), ${count(raw.counted)} counted` +
      (raw.present ? `; ${count(raw.present)} imported before (skipped)` : '') +
      (raw.skipped ? `; ${count(raw.skipped)} skipped (no value, or a date outside 1970 to 2105)` : ''),
  )
  if (!dryRun && valued.length > 0) {
    print(
      `  quartiles           ${plural(values.kept, 'bucket')} with all ${values.kept === 1 ? 'its' : 'their'} raw measures: exact quartiles as measures come; ${count(values.without)} without (raw measures purged by the original, or not all there)`,
    )
  }
}

type WildcardSet = { name: string; groups: string; from: string }
type BucketsResult = { rows: number; wildcardRows: number; skipped: number; duplicates: string[]; sets: WildcardSet[] }

/**
 * The aggregation rows of the measures not done yet, by measure, start date and id. Rows of one
 * bucket key after its first are numbered (`duplicate`: the original's defect, answered as rows of
 * their own); rows with a group reading "*" are wildcard snapshots: their sets are registered with
 * the measure's buckets, and computed from now on.
 */
async function importBuckets(
  original: Original,
  run: RunOperation,
  pass: Pass & { names: string[]; through: Map<string, string>; register: (set: WildcardSet) => void },
): Promise<BucketsResult> {
  const result: BucketsResult = { rows: 0, wildcardRows: 0, skipped: 0, duplicates: [], sets: [] }
  const sets = new Map<string, WildcardSet>()
  const seen = new Set<string>()
  const report = progress(pass.print, 'aggregation', pass.total)
  let read = 0
  let measure:
    | { name: string; definition: Definition; startDate: string; keys: Map<string, number>; lines: string[] }
    | undefined
  const inserts = inOrder()

  const flush = async () => {
    if (!measure || measure.lines.length === 0) return
    const args = { measure: measure.name, rows: measure.lines.join('\n') }
    if (pass.records) await inserts.add(() => run('insertImportedBuckets', args))
    measure.lines = []
  }
  const begin = async (name: string) => {
    seen.add(name)
    if (!pass.records) return
    // Buckets of a run that stopped half-way go: they are all imported again, from this snapshot.
    pass.records.beginBuckets(name, pass.through.get(name) ?? null)
    await run('clearImportedBuckets', { measure: name })
  }
  const finish = async () => {
    await flush()
    await inserts.done()
    if (!measure || !pass.records) return
    for (const set of sets.values()) if (set.name === measure.name) pass.register(set)
    pass.records.bucketsDone(measure.name)
  }

  if (pass.names.length > 0) {
    for await (const batch of original.buckets(pass.names)) {
      for (const row of batch) {
        if (row.measure_name !== measure?.name) {
          await finish()
          await begin(row.measure_name)
          measure = {
            name: row.measure_name,
            definition: pass.byName.get(row.measure_name)!,
            startDate: '',
            keys: new Map(),
            lines: [],
          }
        }
        const startDate = bucketOf(row.start_date)
        if (startDate === null || !(Number(row.count) > 0)) {
          result.skipped++
          continue
        }
        const key = keyOf(row, measure.definition)
        const rolledUp = wildcardGroups(key)
        if (rolledUp.length > 0) {
          result.wildcardRows++
          const groups = rolledUp.join(',')
          const set = sets.get(`${measure.name}\0${groups}`)
          if (!set) sets.set(`${measure.name}\0${groups}`, { name: measure.name, groups, from: startDate })
          else if (startDate < set.from) set.from = startDate
          continue
        }
        if (startDate !== measure.startDate) {
          measure.startDate = startDate
          measure.keys.clear()
        }
        const duplicate = numberOf(measure.keys, key)
        if (duplicate === 1) result.duplicates.push(`${measure.name} ${startDate} ${describe(key, measure.definition)}`)
        if (duplicate > MAX_DUPLICATE)
          throw new UsageError(
            `aggregation holds more than ${MAX_DUPLICATE + 1} rows for one key: ${measure.name} ${startDate} ${describe(key, measure.definition)}`,
          )
        measure.lines.push(JSON.stringify(toImportedBucket(row, startDate, key, duplicate, pass.importedAt)))
        result.rows++
        if (measure.lines.length >= CHUNK_ROWS) await flush()
      }
      report((read += batch.length))
    }
    await finish()
  }
  // Measures without aggregation rows are done too: their raw measures all count (when not aggregated).
  for (const name of pass.names.filter((name) => !seen.has(name))) {
    pass.records?.beginBuckets(name, pass.through.get(name) ?? null)
    pass.records?.bucketsDone(name)
  }
  result.sets = [...sets.values()]
  return result
}

/** The number of rows of `key` seen so far in its bucket (0 for the first), counting this one. */
function numberOf(keys: Map<string, number>, key: Key): number {
  const text = `${key.createdBy}\0${key.group1}\0${key.group2}\0${key.group3}`
  const number = keys.get(text) ?? 0
  keys.set(text, number + 1)
  return number
}

/** `createdBy=app slug=enedis ...`: a bucket key for the output. */
function describe(key: Key, definition: Definition): string {
  const keys = groupKeys(definition)
  const groups = GROUPS.flatMap((group, index) => (keys[index] === null ? [] : [`${keys[index]}=${key[group]}`]))
  return [`createdBy=${key.createdBy || '(none)'}`, ...groups].join(' ')
}
