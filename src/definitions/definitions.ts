import fs from 'node:fs'
import { firstLine, UsageError } from '../errors.ts'
import { cached, type Store } from '../store/store.ts'
import { ajv } from '../validation.ts'
import { definitionsFileSchema, type Definition } from './schema.ts'

const validateFile = ajv.compile<{ definitions: Definition[] }>(definitionsFileSchema)

export type DefinitionRecord = { definition: Definition; updatedAt: string; lastPurgeAt: string | null }

export function createDefinitions(store: Store) {
  const upsert = store.db.prepare(
    `INSERT INTO definitions (name, body, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
  )
  const selectAll = store.db.prepare('SELECT name, body, updated_at, last_purge_at FROM definitions ORDER BY name')
  const deleteOne = store.db.prepare('DELETE FROM definitions WHERE name = ?')
  const updatePurge = store.db.prepare('UPDATE definitions SET last_purge_at = ? WHERE name = ?')
  const byName = cached(store, () => {
    const map = new Map<string, Definition>()
    for (const row of selectAll.all() as { name: string; body: string }[]) map.set(row.name, JSON.parse(row.body))
    return map
  })

  return {
    /** The definition named `name`, from memory (reloaded only when the store changes). */
    get: (name: string): Definition | undefined => byName().get(name),

    list: (): DefinitionRecord[] =>
      (selectAll.all() as { body: string; updated_at: string; last_purge_at: string | null }[]).map((row) => ({
        definition: JSON.parse(row.body),
        updatedAt: row.updated_at,
        lastPurgeAt: row.last_purge_at,
      })),

    /** Deletes a definition; false when there was none. */
    delete(name: string): boolean {
      const deleted = deleteOne.run(name).changes > 0
      store.touch()
      return deleted
    },

    /** Records when the raw measures of `names` were last purged (shown by dacc definitions list). */
    recordPurge(names: string[], at: Date): void {
      store.db.transaction(() => {
        for (const name of names) updatePurge.run(at.toISOString(), name)
      })()
    },

    /**
     * Validates a definitions file whole, then upserts every entry by name in one transaction:
     * an invalid file changes nothing. Returns the names inserted and updated.
     */
    insertFile(file: string): { inserted: string[]; updated: string[] } {
      return this.upsert(parseDefinitionsFile(file))
    },

    /** Upserts definitions already validated (checkDefinitions) by name, in one transaction. */
    upsert(definitions: Definition[]): { inserted: string[]; updated: string[] } {
      const known = byName()
      const result = { inserted: [] as string[], updated: [] as string[] }
      const now = new Date().toISOString()
      store.db.transaction(() => {
        for (const definition of definitions) {
          upsert.run(definition.name, JSON.stringify(definition), now)
          ;(known.has(definition.name) ? result.updated : result.inserted).push(definition.name)
        }
      })()
      store.touch()
      return result
    },
  }
}

export type Definitions = ReturnType<typeof createDefinitions>

export function parseDefinitionsFile(file: string): Definition[] {
  let data: unknown
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (err) {
    throw new UsageError(`cannot read definitions file ${file}: ${firstLine(err)}`)
  }
  return checkDefinitions(data, `definitions file ${file}`)
}

/**
 * The definitions of `data` (the file format, `{"definitions": [...]}`), validated whole, defaults
 * applied; else the first fault, naming the entry and field, with `source` (what they come from).
 */
export function checkDefinitions(data: unknown, source: string): Definition[] {
  if (!validateFile(data)) {
    const error = validateFile.errors![0]
    const [, , index, field] = error.instancePath.split('/')
    const entries = (data as { definitions?: { name?: unknown }[] }).definitions
    const where = index === undefined ? 'file' : `definition #${Number(index) + 1}${nameOf(entries?.[Number(index)])}`
    const about =
      error.keyword === 'additionalProperties'
        ? `unknown field ${(error.params as { additionalProperty: string }).additionalProperty}`
        : error.keyword === 'required'
          ? `missing field ${(error.params as { missingProperty: string }).missingProperty}`
          : `${field ?? 'definitions'} ${error.message}`
    throw new UsageError(`invalid ${source}: ${where}: ${about}`)
  }
  const seen = new Set<string>()
  for (const [index, definition] of data.definitions.entries()) {
    if (seen.has(definition.name)) {
      throw new UsageError(`invalid ${source}: definition #${index + 1} ("${definition.name}"): name is used twice`)
    }
    if (definition.noise && definition.noise.valueMin > definition.noise.valueMax) {
      throw new UsageError(
        `invalid ${source}: definition #${index + 1} ("${definition.name}"): noise valueMin must not exceed valueMax`,
      )
    }
    seen.add(definition.name)
  }
  return data.definitions
}

function nameOf(entry: { name?: unknown } | undefined): string {
  return typeof entry?.name === 'string' ? ` ("${entry.name}")` : ''
}
