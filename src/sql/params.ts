import { sqlString } from './check.ts'
import { SqlError } from './errors.ts'

type Placeholder = { start: number; end: number; name: string; type: string }

const NAME = /\{\s*([A-Za-z_]\w*)\s*:\s*/y

/**
 * The `{name:Type}` placeholders of a statement as ClickHouse's formatter writes it, outside its
 * quoted strings and identifiers (a type may hold quotes and braces: `Enum8('}' = 1)`).
 */
export function placeholders(statement: string): Placeholder[] {
  const found: Placeholder[] = []
  for (let i = 0; i < statement.length; i++) {
    const char = statement[i]
    if (char === "'" || char === '"' || char === '`') {
      i = closing(statement, i)
      continue
    }
    if (char !== '{') continue
    NAME.lastIndex = i
    const name = NAME.exec(statement)
    if (!name) continue
    let end = NAME.lastIndex
    while (end < statement.length && statement[end] !== '}') {
      if (statement[end] === "'" || statement[end] === '"' || statement[end] === '`') end = closing(statement, end)
      end++
    }
    if (end >= statement.length) break
    found.push({ start: i, end: end + 1, name: name[1], type: statement.slice(NAME.lastIndex, end).trim() })
    i = end
  }
  return found
}

/** The index of the quote closing the one at `start` (backslash escapes and doubled quotes inside). */
function closing(text: string, start: number): number {
  const quote = text[start]
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === quote) {
      if (text[i + 1] !== quote) return i
      i++
    }
  }
  return text.length
}

export type Bound = {
  /** The statement with its placeholders renamed __dacc_p0, __dacc_p1, ...: what the checks and the run see. */
  statement: string
  /** `SET param___dacc_p0 = '...'`: their values on the session, or undefined when there are none. */
  set: string | undefined
  /** The same, emptied: run after the query, so that nothing of one request stays for the next. */
  reset: string | undefined
}

/**
 * Query parameters as ClickHouse's HTTP interface takes them (`param_<name>`, each value in the
 * escaped text format of its type). The engine substitutes them itself, as a server would, from
 * session parameters: the values reach it as string literals and are parsed by their type, so
 * an `{t:Identifier}` naming `system.processes` is seen by the checks exactly as it would run.
 * Session parameters outlive a query: the placeholders get fixed names of our own, set before
 * and emptied after each request, so that a request never reads another's values.
 */
export function bindParameters(statement: string, params: Record<string, string>): Bound {
  const found = placeholders(statement)
  if (found.length === 0) return { statement, set: undefined, reset: undefined }
  const names = [...new Set(found.map((placeholder) => placeholder.name))]
  for (const name of names) {
    if (!Object.hasOwn(params, name))
      throw new SqlError('UNKNOWN_QUERY_PARAMETER', `Substitution \`${name}\` is not set`)
    if (params[name].includes('\0'))
      throw new SqlError('BAD_QUERY_PARAMETER', `the value of the query parameter ${name} holds a NUL character`)
  }
  const ours = (name: string) => `__dacc_p${names.indexOf(name)}`
  let renamed = ''
  let last = 0
  for (const { start, end, name, type } of found) {
    renamed += `${statement.slice(last, start)}{${ours(name)}:${type}}`
    last = end
  }
  renamed += statement.slice(last)
  const assign = (value: (name: string) => string) =>
    `SET ${names.map((name) => `param_${ours(name)} = ${value(name)}`).join(', ')}`
  return { statement: renamed, set: assign((name) => sqlString(params[name])), reset: assign(() => "''") }
}
