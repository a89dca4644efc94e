import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../src/server.ts'
import { capturingLogger, testConfig } from '../helpers/server.ts'

type Context = { server: RunningServer; lines: Record<string, unknown>[] }
const test = suite<Context>('request log lines and X-Request-Id', {} as Context)

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

test.before(async (context) => {
  const { logger, lines } = capturingLogger()
  context.server = await startServer(testConfig(), logger)
  context.lines = lines
})

test.after(async ({ server }) => {
  await server?.close()
})

/** GETs `path` with the given X-Request-Id (none when undefined): the id answered, and the request's log line. */
async function requestWith({ server, lines }: Context, path: string, requestId?: string) {
  const response = await fetch(server.url + path, {
    headers: requestId === undefined ? {} : { 'X-Request-Id': requestId },
  })
  await response.arrayBuffer()
  const id = response.headers.get('x-request-id')
  const line = lines.find((entry) => entry.msg === 'request' && entry.requestId === id)
  return { status: response.status, id, line }
}

test('an id is generated when none comes, echoed in the header and carried by the log line', async (context) => {
  const first = await requestWith(context, '/status')
  const second = await requestWith(context, '/status')
  assert.match(first.id!, UUID)
  assert.is.not(first.id, second.id)
  assert.equal(first.line, {
    level: 30,
    msg: 'request',
    requestId: first.id,
    method: 'GET',
    path: '/status',
    status: 200,
    ms: first.line!.ms,
  })
})

test('a sane incoming X-Request-Id is kept, on errors too', async (context) => {
  for (const [path, status] of [
    ['/status', 200],
    ['/nowhere', 404],
    ['/definitions', 401],
  ] as const) {
    const sent = `trace-${status}.1:ab/CD+e=f@g_h`
    const answer = await requestWith(context, path, sent)
    assert.is(answer.status, status)
    assert.is(answer.id, sent)
    assert.is(answer.line?.path, path)
  }
  const longest = 'a'.repeat(128)
  assert.is((await requestWith(context, '/status', longest)).id, longest)
})

test('an id that is too long, empty or holds other characters is replaced by a generated one', async (context) => {
  for (const sent of ['a'.repeat(129), '', 'two words', '"quoted"', 'ünïcode', '{"level":60}']) {
    const answer = await requestWith(context, '/status', sent)
    assert.match(answer.id!, UUID, sent)
    assert.ok(answer.line, sent)
  }
})

test.run()
