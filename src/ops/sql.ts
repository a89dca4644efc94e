import type { ClickHouseClient } from '../clickhouse/client.ts'
import { firstLine, UsageError } from '../errors.ts'

export type QueryResult = { columns: { name: string; type: string }[]; rows: unknown[][] }

/** The statements `dacc sql` runs, as ClickHouse's formatter writes their first word. */
const READ_ONLY = ['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'EXPLAIN', 'EXISTS']

/** A table's name, as the formatter writes it (`db.table` or `table`, backquoted when needed). */
const TABLE = '((?:`[^`]+`|\\w+)(?:\\.(?:`[^`]+`|\\w+))?)'

/**
 * The statements other than queries that are allowed, about one table (SHOW PROCESSLIST shows
 * other sessions' queries; DESCRIBE of a table function would read what it names).
 */
const ABOUT_A_TABLE = [
  /^SHOW TABLES$/,
  new RegExp(`^SHOW CREATE (?:TABLE|VIEW) ${TABLE}$`),
  new RegExp(`^DESCRIBE TABLE ${TABLE}$`),
  new RegExp(`^EXISTS (?:TABLE |VIEW )?${TABLE}$`),
]

/** Table functions that read nothing but what they generate; system.one is the table of a SELECT without FROM. */
const GENERATORS = ['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generateRandom', 'values', 'null']
const ALLOWED_ELSEWHERE = ['system.one']

/**
 * Runs a data engineer's query, read-only, on the DACC database only. ClickHouse's own parser
 * reads it first (formatQuery: exactly one statement, normalised, comments dropped, literals
 * escaped onto one line), which refuses a write with a clear message; then its syntax tree
 * (EXPLAIN AST) is checked, since `readonly = 1` alone does not hold: a subquery's SETTINGS can
 * lift it (also when the session itself is read-only, measured), and some readers stay allowed
 * read-only (the file() function, merge(), system tables with other sessions' queries). So no
 * SETTINGS clause, no table function but generators, no file or dictionary function, no table
 * outside the current database, and only the SHOW statements about its tables. Then the
 * statement runs with `readonly = 1` (writes refused by ClickHouse itself), as a SETTINGS clause
 * of the statement: the embedded engine turns a client setting into a SET, which would leave its
 * whole session (the server's) read-only. INTO OUTFILE is refused, as the embedded engine would
 * write that file even read-only; `maxRows` keeps a large result from filling the memory of the
 * server that runs the query for the CLI.
 */
export async function readOnlyQuery(client: ClickHouseClient, query: string, maxRows: number): Promise<QueryResult> {
  if (!Number.isSafeInteger(maxRows) || maxRows < 1)
    throw new UsageError(`the row limit must be a positive whole number, got: ${maxRows}`)
  const statement = await formatted(client, query)
  const kind = statement.split(/\s/, 1)[0]
  if (!READ_ONLY.includes(kind))
    throw new UsageError(`only read-only queries run here (${READ_ONLY.join(', ')}), got: ${kind}`)
  if (/^INTO OUTFILE\b/m.test(statement))
    throw new UsageError('INTO OUTFILE is not allowed: redirect the output instead')
  if (/^FORMAT\b/m.test(statement))
    throw new UsageError('a FORMAT clause is not allowed: choose the output with --format')
  const database = await currentDatabase(client)
  if (kind === 'SELECT' || kind === 'WITH') checkTree(await syntaxTree(client, statement), database)
  else if (kind === 'EXPLAIN') {
    // What is explained is a query: checked as one (EXPLAIN's own options hold no SELECT or WITH).
    const explained = /\b(?:SELECT|WITH)\b[\s\S]*$/.exec(statement)
    if (!explained) throw new UsageError('dacc sql explains queries only (EXPLAIN SELECT ...)')
    checkTree(await syntaxTree(client, explained[0]), database)
  } else {
    const about = ABOUT_A_TABLE.map((pattern) => pattern.exec(statement)).find(Boolean)
    if (!about) refuse(`this ${kind} statement is not allowed`)
    if (about[1]) checkTable(about[1].replaceAll('`', ''), database)
  }
  try {
    const result = await client.query({
      query: `${statement}\nSETTINGS readonly = 1, max_result_rows = ${maxRows}, result_overflow_mode = 'throw'`,
      format: 'JSONCompact',
    })
    const { meta = [], data } = await result.json<unknown[]>()
    return { columns: meta.map(({ name, type }) => ({ name, type })), rows: data }
  } catch (err) {
    // The embedded engine keeps what a query that failed while running had begun to write, and
    // hands it to the session's next query: a throwaway query takes it.
    await client.command({ query: 'SELECT 1' }).catch(() => undefined)
    const { type } = err as { type?: string }
    if (type === 'READONLY') throw new UsageError(`refused, dacc sql is read-only: ${firstLine(err)}`)
    if (type === 'TOO_MANY_ROWS_OR_BYTES')
      throw new UsageError(`the result has more than ${maxRows} rows: narrow the query, or raise --max-rows`)
    throw err
  }
}

async function formatted(client: ClickHouseClient, query: string): Promise<string> {
  try {
    const result = await client.query({
      query: 'SELECT formatQuery({query:String}) AS statement',
      query_params: { query },
      format: 'JSONEachRow',
    })
    const [row] = await result.json<{ statement: string }>()
    return row.statement
  } catch (err) {
    // The parser's message, without the wrapping query it was reported in.
    throw new UsageError(firstLine(err).replace(/[.:\s]*In scope SELECT formatQuery.*$/, ''))
  }
}

async function currentDatabase(client: ClickHouseClient): Promise<string> {
  const result = await client.query({ query: 'SELECT currentDatabase() AS name', format: 'JSONEachRow' })
  return (await result.json<{ name: string }>())[0].name
}

type AstNode = { depth: number; kind: string; name: string }

/** The statement's syntax tree, a node a line (`  Function file (alias f) (children 1)`), depth by indentation. */
async function syntaxTree(client: ClickHouseClient, statement: string): Promise<AstNode[]> {
  // As a subquery: the FORMAT the client adds then applies to the SELECT, not to the statement explained.
  const result = await client.query({ query: `SELECT explain FROM (EXPLAIN AST ${statement})`, format: 'JSONCompact' })
  const { data } = await result.json<[string]>()
  return data.map(([line]) => {
    const [kind = '', name = ''] = line.trim().split(' ')
    return { depth: line.length - line.trimStart().length, kind, name }
  })
}

/** Refuses a table of another database (system tables show other sessions' queries). */
function checkTable(name: string, database: string): void {
  if (name.includes('.') && name.split('.')[0] !== database && !ALLOWED_ELSEWHERE.includes(name))
    refuse(`the table ${name} is not allowed`)
}

function refuse(message: string): never {
  throw new UsageError(`${message}: dacc sql reads the DACC tables only`)
}

function checkTree(nodes: AstNode[], database: string): void {
  nodes.forEach((node, index) => {
    if (node.kind === 'Set') throw new UsageError('a SETTINGS clause is not allowed in dacc sql')
    if (node.kind === 'TableIdentifier') checkTable(node.name, database)
    if (node.kind !== 'Function') return
    const parent = nodes[index - 1]
    if (parent?.kind === 'TableExpression' && parent.depth === node.depth - 1 && !GENERATORS.includes(node.name)) {
      refuse(`the table function ${node.name} is not allowed`)
    }
    if (node.name === 'file' || node.name === 'joinGet' || /^dict/i.test(node.name))
      refuse(`the function ${node.name} is not allowed`)
    // `x IN db.table` reads a table named as a plain identifier: the second argument.
    if (/^(global)?(not)?in$/i.test(node.name)) {
      const second = nodes.slice(index + 2).filter((child) => child.depth === node.depth + 2)[1]
      if (second?.kind === 'Identifier') checkTable(second.name, database)
    }
  })
}
