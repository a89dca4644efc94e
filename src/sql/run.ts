import { Readable } from 'node:stream'
import { checkQuery, type Checked, type Policy } from './check.ts'
import type { Output, SqlSession } from './engine.ts'
import { bindParameters } from './params.ts'

export type Running = {
  checked: Checked
  /** The output format: the query's FORMAT clause, else the one asked for. */
  format: string
  output: Output
}

export type RunOptions = {
  policy: Policy
  /** The format when the query names none. */
  format: string
  /** The SETTINGS clause it runs with (read-only, limits). */
  settings: string
  /** Query parameters by name (`param_<name>`), when the caller takes any. */
  params?: Record<string, string>
}

/**
 * Checks a query and starts it on `session`: `dacc sql` and the HTTP interface run queries this
 * way. Its parameters live on the session until its output is finished (`output.finished`
 * settles once they are emptied), so the session serves its next query only then.
 */
export async function startQuery(session: SqlSession, query: string, options: RunOptions): Promise<Running> {
  let reset: string | undefined
  const emptied = () => (reset ? session.explain(reset).then(() => undefined) : Promise.resolve())
  const bind = async (statement: string) => {
    const bound = bindParameters(statement, options.params ?? {})
    if (bound.set) await session.explain(bound.set)
    reset = bound.reset
    return bound.statement
  }
  try {
    const checked = await checkQuery(session.explain, query, options.policy, options.params && bind)
    const format = checked.format ?? options.format
    const output = session.output(checked.statement, format, options.settings)
    const finished = output.finished.finally(emptied)
    finished.catch(() => undefined)
    return { checked, format, output: { ...output, finished } }
  } catch (err) {
    await emptied().catch(() => undefined)
    throw err
  }
}

/** An output's bytes, then its error if the engine failed midway; destroying it cancels the statement. */
export function outputStream(output: Output): Readable {
  async function* bytes() {
    yield* output.stream
    await output.finished
  }
  const stream = Readable.from(bytes(), { objectMode: false })
  stream.on('close', () => {
    if (!stream.readableEnded) output.cancel()
  })
  return stream
}
