import { fromEngine, SqlError } from './errors.ts'

/**
 * What a reader may read: `raw`, the whole DACC database, read-only (`dacc sql`, tokens with
 * sql:raw); `public`, what /aggregate publishes and nothing under a threshold: the
 * aggregates_public and definitions_public views (tokens with sql:public).
 */
export type Access = 'raw' | 'public'

/** The engine as the checks ask it: the rows of a query that reads no data (formatQuery, EXPLAIN), as JSON arrays. */
export type Explain = (query: string) => Promise<unknown[][]>

export type Policy = {
  access: Access
  /** The DACC database, the current one of every query. */
  database: string
  /** Who refuses, in messages: `dacc sql`, `the SQL interface`. */
  where: string
  /** Whether a query may name its output format (FORMAT, the HTTP interface) or not (dacc sql has --format). */
  formatClause: boolean
  /** A SETTINGS clause for the check queries themselves: analysing a query runs its scalar subqueries. */
  limits: string
}

export type Checked = {
  /** The statement as ClickHouse's formatter writes it, without its FORMAT clause: ready to run read-only. */
  statement: string
  /** Its first word: SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS. */
  kind: string
  /** The format its FORMAT clause names, if any. */
  format: string | undefined
  /** The query with every literal replaced by `?` (ClickHouse's normalizeQuery): what a log may show. */
  shape: string
}

/** The statements that run, as ClickHouse's formatter writes their first word. */
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
/** What sql:public reads: the views that apply thresholds and access flags (clickhouse/0005, 0009, 0017). */
const PUBLIC_TABLES = ['aggregates_public', 'definitions_public']
/** Functions that read files, dictionaries or Join tables by a name given as a string, out of the tables' reach. */
const READERS = /^(?:file|joinGet\w*|dict\w*|catboostEvaluate|modelEvaluate)$/i

/**
 * Checks a data engineer's query, and returns it as it will run. ClickHouse's own parser reads
 * it first (formatQuery: exactly one statement, normalised, comments dropped, literals escaped
 * onto one line), which refuses a write with a clear message; then its syntax tree (EXPLAIN AST)
 * is checked, since `readonly = 1` alone does not hold: a subquery's SETTINGS can lift it (also
 * when the session itself is read-only, measured), and some readers stay allowed read-only (the
 * file() function, merge(), system tables with other sessions' queries). So no SETTINGS clause,
 * no table function but generators, no file or dictionary function, no table but the allowed
 * ones, only the SHOW statements about them, and no INTO OUTFILE (the engine writes that file
 * even read-only). Last, the analysed query (EXPLAIN QUERY TREE, which resolves common table
 * expressions and default databases) must name no other table: the syntax tree goes first
 * because analysing runs scalar subqueries and reads a url()'s schema. The caller runs the
 * statement with `readonly = 1` in its own SETTINGS clause. `bind` gives the query parameters
 * their values (src/sql/params.ts) before the trees are read: they may name tables.
 */
export async function checkQuery(
  explain: Explain,
  query: string,
  policy: Policy,
  bind?: (statement: string) => Promise<string>,
): Promise<Checked> {
  if (query.includes('\0')) throw new SqlError('SYNTAX_ERROR', 'a query cannot hold a NUL character')
  let { statement, shape } = await formatted(explain, query)
  const kind = statement.split(/\s/, 1)[0]
  if (!READ_ONLY.includes(kind))
    throw new SqlError('READONLY', `only read-only queries run here (${READ_ONLY.join(', ')}), got: ${kind}`)
  if (/^INTO OUTFILE\b/m.test(statement))
    throw new SqlError('ACCESS_DENIED', 'INTO OUTFILE is not allowed: redirect the output instead')
  const clause = /^FORMAT (\w+)$/m.exec(statement)
  if (clause && !policy.formatClause)
    throw new SqlError('BAD_ARGUMENTS', 'a FORMAT clause is not allowed: choose the output with --format')
  if (clause) statement = statement.replace(/\nFORMAT \w+$/m, '')
  if (bind) statement = await bind(statement)
  const tables: Tables = new Tables(policy)
  if (kind === 'SELECT' || kind === 'WITH') await checkQueryTree(explain, statement, tables)
  else if (kind === 'EXPLAIN') {
    if (policy.access === 'public') tables.refuse('EXPLAIN is not allowed')
    // What is explained is a query: checked as one (EXPLAIN's own options hold no SELECT or WITH).
    const explained = /\b(?:SELECT|WITH)\b[\s\S]*$/.exec(statement)
    if (!explained) throw new SqlError('ACCESS_DENIED', `${policy.where} explains queries only (EXPLAIN SELECT ...)`)
    await checkQueryTree(explain, explained[0], tables)
  } else {
    const about = ABOUT_A_TABLE.map((pattern) => pattern.exec(statement)).find(Boolean)
    if (!about || (policy.access === 'public' && !about[1])) tables.refuse(`this ${kind} statement is not allowed`)
    if (about[1]) tables.check(about[1].replaceAll('`', ''))
  }
  return { statement, kind, format: clause?.[1], shape }
}

/** A string as a ClickHouse literal: backslashes and quotes escaped. */
export const sqlString = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`

async function formatted(explain: Explain, query: string): Promise<{ statement: string; shape: string }> {
  try {
    const [[statement, shape]] = await explain(
      `SELECT formatQuery(${sqlString(query)}), normalizeQuery(${sqlString(query)})`,
    )
    return { statement: String(statement), shape: String(shape) }
  } catch (err) {
    // The parser's message, without the wrapping query it was reported in.
    const error = fromEngine(err)
    throw new SqlError(error, error.message.replace(/[.:\s]*In scope SELECT formatQuery[\s\S]*$/, ''))
  }
}

/** Which tables a policy reads, and its refusals. */
class Tables {
  readonly policy: Policy

  constructor(policy: Policy) {
    this.policy = policy
  }

  /** Refuses a table of another database (system tables show other sessions' queries), or beyond the public views. */
  check(name: string): void {
    const [database, table] = name.includes('.') ? name.split('.', 2) : [this.policy.database, name]
    const allowed =
      ALLOWED_ELSEWHERE.includes(name) ||
      (database === this.policy.database && (this.policy.access === 'raw' || PUBLIC_TABLES.includes(table)))
    if (!allowed) this.refuse(`the table ${name} is not allowed`)
  }

  tableFunction(name: string): void {
    if (!GENERATORS.includes(name)) this.refuse(`the table function ${name} is not allowed`)
  }

  refuse(message: string): never {
    const reach =
      this.policy.access === 'public'
        ? 'a sql:public token reads aggregates_public and definitions_public only'
        : `${this.policy.where} reads the DACC tables only`
    throw new SqlError('ACCESS_DENIED', `${message}: ${reach}`)
  }
}

type Node = { depth: number; kind: string; name: string }

/** The syntax tree, then the analysed query tree, of a SELECT (see checkQuery). */
async function checkQueryTree(explain: Explain, select: string, tables: Tables): Promise<void> {
  const ast = await explained(explain, `EXPLAIN AST ${select}`, tables)
  // The syntax tree does not name common table expressions (the formatter writes `name AS\n(`):
  // what such a name reads is left to the query tree, which resolves it; but not a name of a
  // table, which a subquery out of the expression's scope would read while the query is analysed.
  const expressions = new Set(
    [...select.matchAll(/(\w+|`[^`]+`) AS\s*\(/g)].map((match) => match[1].replaceAll('`', '')),
  )
  if (expressions.size > 0) {
    const real = await explain(`SELECT name FROM system.tables WHERE database = ${sqlString(tables.policy.database)}`)
    for (const [name] of real) expressions.delete(String(name))
  }
  ast.forEach((node, index) => {
    if (node.kind === 'Set')
      throw new SqlError('READONLY', `a SETTINGS clause is not allowed in ${tables.policy.where}`)
    if (node.kind === 'TableIdentifier' && !expressions.has(node.name)) tables.check(node.name)
    if (node.kind !== 'Function') return
    const parent = ast[index - 1]
    if (parent?.kind === 'TableExpression' && parent.depth === node.depth - 1) tables.tableFunction(node.name)
    if (READERS.test(node.name)) tables.refuse(`the function ${node.name} is not allowed`)
    // `x IN db.table` reads a table named as a plain identifier: the second argument.
    if (/^(global)?(not)?in$/i.test(node.name)) {
      const second = ast.slice(index + 2).filter((child) => child.depth === node.depth + 2)[1]
      if (second?.kind === 'Identifier') tables.check(second.name)
    }
  })
  for (const node of await explained(explain, `EXPLAIN QUERY TREE ${select}`, tables)) {
    const field = (key: string) => new RegExp(`\\b${key}: (.*?)(?:, \\w+: |$)`).exec(node.name)?.[1] ?? ''
    if (node.kind === 'TABLE') tables.check(field('table_name'))
    if (node.kind === 'TABLE_FUNCTION') tables.tableFunction(field('table_function_name'))
    if (node.kind === 'FUNCTION' && READERS.test(field('function_name')))
      tables.refuse(`the function ${field('function_name')} is not allowed`)
  }
}

/**
 * The lines of an EXPLAIN, a node each (`  Function file (alias f) (children 1)`), its depth by
 * indentation. As a subquery: the FORMAT the client adds then applies to the SELECT, not to the
 * statement explained.
 */
async function explained(explain: Explain, what: string, tables: Tables): Promise<Node[]> {
  const { limits } = tables.policy
  let rows: unknown[][]
  try {
    rows = await explain(`SELECT explain FROM (${what})${limits ? `\nSETTINGS ${limits}` : ''}`)
  } catch (err) {
    throw fromEngine(err)
  }
  return rows.map(([line]) => {
    const text = String(line)
    const trimmed = text
      .trim()
      .replace(/ \(children \d+\)$/, '')
      .replace(/ \(alias [^)]*\)$/, '')
    const space = trimmed.indexOf(' ')
    return {
      depth: text.length - text.trimStart().length,
      kind: space < 0 ? trimmed : trimmed.slice(0, space),
      name: space < 0 ? '' : trimmed.slice(space + 1),
    }
  })
}
