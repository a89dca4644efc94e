import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ask, assertError, logLine, startSqlServer, type SqlServer } from '../helpers/sql.ts'

// Its own file (the embedded engine binds one data directory per process): these limits are tight.
const test = suite<SqlServer>('SQL interface: limits and the concurrency bound', {} as SqlServer)

test.before(async (context) => {
  Object.assign(
    context,
    await startSqlServer({ maxResultRows: 1000, maxExecutionSeconds: 1, maxMemoryMb: 64, maxConcurrentQueries: 1 }),
  )
})
test.after(async ({ server }) => server?.close())

test('limits the client cannot raise: rows, time, memory; the session serves the next query', async ({
  url,
  tokens,
}) => {
  const token = tokens.raw
  const tooMany = (search: Record<string, string> = {}) =>
    ask(url, 'SELECT number FROM numbers(5000)', { token, search })
  assertError(await tooMany(), 500, 396, 'TOO_MANY_ROWS_OR_BYTES')
  assertError(await tooMany({ max_result_rows: '0' }), 500, 396, 'TOO_MANY_ROWS_OR_BYTES')
  assertError(await tooMany({ max_result_rows: '1000000' }), 500, 396, 'TOO_MANY_ROWS_OR_BYTES')
  assertError(
    await ask(url, 'SELECT number FROM numbers(100)', { token, search: { max_result_rows: '10' } }),
    500,
    396,
    'TOO_MANY_ROWS_OR_BYTES',
    /max rows: 10\b/,
  )
  const endless = 'SELECT count() FROM numbers(1000000000000)'
  assertError(await ask(url, endless, { token }), 500, 159, 'TIMEOUT_EXCEEDED')
  assertError(await ask(url, endless, { token, search: { max_execution_time: '100' } }), 500, 159, 'TIMEOUT_EXCEEDED')
  assertError(
    await ask(url, 'SELECT length(groupArray(number)) FROM numbers(100000000)', { token }),
    500,
    241,
    'MEMORY_LIMIT_EXCEEDED',
  )
  assert.is((await ask(url, 'SELECT 1', { token })).text, '1\n')
})

test('more queries than sessions: the next one waits for a session, then runs', async ({ url, tokens, lines }) => {
  const token = tokens.raw
  const slow = ask(url, 'SELECT sleep(0.8)', { token, search: { query_id: 'slow' } })
  await new Promise((resolve) => setTimeout(resolve, 100))
  const next = await ask(url, 'SELECT 2', { token, search: { query_id: 'next' } })
  assert.is(next.text, '2\n')
  assert.is((await slow).status, 200)
  assert.ok(Number(logLine(lines, 'next').ms) >= 500, 'it waited for the slow one')
})

test.run()
