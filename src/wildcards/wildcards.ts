import { parseDate } from '../dates.ts'
import { GROUPS, type Group } from '../definitions/schema.ts'
import { UsageError } from '../errors.ts'
import { cached, type Store } from '../store/store.ts'

/** A registered rollup: /aggregate adds rows where `groups` read "*", for buckets in [fromDate, toDate). */
export type WildcardSet = {
  measureName: string
  groups: Group[]
  /** `YYYY-MM-DD hh:mm:ss`, or null for no bound. */
  fromDate: string | null
  toDate: string | null
  createdAt: string
}

export type DateRange = { fromDate?: string | null; toDate?: string | null }

type Row = {
  measure_name: string
  groups: string
  from_date: string | null
  to_date: string | null
  created_at: string
}

export function createWildcards(store: Store) {
  const upsert = store.db.prepare(
    `INSERT INTO wildcard_sets (measure_name, groups, from_date, to_date, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (measure_name, groups) DO UPDATE SET from_date = excluded.from_date, to_date = excluded.to_date`,
  )
  const deleteOne = store.db.prepare('DELETE FROM wildcard_sets WHERE measure_name = ? AND groups = ?')
  const selectOne = store.db.prepare('SELECT * FROM wildcard_sets WHERE measure_name = ? AND groups = ?')
  const selectAll = store.db.prepare('SELECT * FROM wildcard_sets ORDER BY measure_name, groups')
  const selectByMeasure = store.db.prepare('SELECT * FROM wildcard_sets WHERE measure_name = ? ORDER BY groups')
  const byMeasure = cached(store, () => {
    const map = new Map<string, WildcardSet[]>()
    for (const set of (selectAll.all() as Row[]).map(toSet)) {
      if (!map.has(set.measureName)) map.set(set.measureName, [])
      map.get(set.measureName)!.push(set)
    }
    return map
  })

  return {
    /** Registers (or re-dates) the rollup of `groups` for a measure. Dates as the API takes them. */
    register(measureName: string, groups: string[], range: DateRange = {}): WildcardSet {
      const key = canonical(groups)
      const fromDate = dateOf('from date', range.fromDate)
      const toDate = dateOf('to date', range.toDate)
      if (fromDate && toDate && fromDate >= toDate)
        throw new UsageError(`the from date must be before the to date, got: ${fromDate} and ${toDate}`)
      upsert.run(measureName, key, fromDate, toDate, new Date().toISOString())
      store.touch()
      return toSet(selectOne.get(measureName, key) as Row)
    },

    /** Unregisters a rollup; false when there was none. */
    remove(measureName: string, groups: string[]): boolean {
      const removed = deleteOne.run(measureName, canonical(groups)).changes > 0
      store.touch()
      return removed
    },

    list: (measureName?: string): WildcardSet[] =>
      ((measureName === undefined ? selectAll.all() : selectByMeasure.all(measureName)) as Row[]).map(toSet),

    /** A measure's sets, from memory (reloaded only when the store changes, so CLI changes show at once). */
    forMeasure: (measureName: string): WildcardSet[] => byMeasure().get(measureName) ?? [],
  }
}

export type Wildcards = ReturnType<typeof createWildcards>

/** 'group3,group1' and ['group1', 'group3'] alike become 'group1,group3': one key per set of groups. */
function canonical(groups: string[]): string {
  const names = groups.flatMap((group) => group.split(',')).map((group) => group.trim())
  const unknown = names.find((name) => !(GROUPS as readonly string[]).includes(name))
  if (unknown !== undefined || names.length === 0) {
    throw new UsageError(`wildcard groups must be among ${GROUPS.join(', ')}, got: ${groups.join(',') || '(none)'}`)
  }
  return GROUPS.filter((group) => names.includes(group)).join(',')
}

function dateOf(what: string, value: string | null | undefined): string | null {
  if (value == null) return null
  const date = parseDate(value)
  if (!date) throw new UsageError(`the ${what} must be YYYY-MM-DD or an ISO-8601 date-time, got: ${value}`)
  return date
}

function toSet(row: Row): WildcardSet {
  return {
    measureName: row.measure_name,
    groups: row.groups.split(',') as Group[],
    fromDate: row.from_date,
    toDate: row.to_date,
    createdAt: row.created_at,
  }
}
