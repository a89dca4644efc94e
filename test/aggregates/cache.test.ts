import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; token: string }
const test = suite<Context>('/aggregate read cache', {} as Context)
const STALENESS_MS = 300

test.before(async (context) => {
  context.server = await startTestServer({ aggregate: { maxStalenessMs: STALENESS_MS } })
  context.server.define({ name: 'cached', aggregationThreshold: 1, accessApp: true })
  context.token = await context.server.token()
})
test.after(async ({ server }) => server.close())

const countNow = async ({ server, token }: Context) => {
  const response = await server.post('/aggregate', { measureName: 'cached', startDate: '2022-01-01', endDate: '2022-01-02' }, token)
  const rows = (await response.json()) as { count: number }[]
  return rows[0]?.count ?? 0
}
const postOne = ({ server, token }: Context) => server.post('/measure', { measureName: 'cached', value: 1, startDate: '2022-01-01' }, token)

test('identical requests share an answer no older than maxStalenessMs', async (context) => {
  await postOne(context)
  const asked = performance.now()
  assert.is(await countNow(context), 1)
  await postOne(context)
  const second = await countNow(context)
  if (performance.now() - asked < STALENESS_MS) assert.is(second, 1, 'served from the cache inside the window')
  await new Promise((resolve) => setTimeout(resolve, STALENESS_MS + 20))
  assert.is(await countNow(context), 2, 'fresh once the window has passed')
})

test('a definition change is seen on the next request', async (context) => {
  assert.is(await countNow(context), 2)
  context.server.define({ name: 'cached', aggregationThreshold: 3, accessApp: true })
  assert.is(await countNow(context), 0, 'the new threshold applies at once')
  context.server.define({ name: 'cached', aggregationThreshold: 1, accessApp: false })
  const response = await context.server.post('/aggregate', { measureName: 'cached', startDate: '2022-01-01', endDate: '2022-01-02' }, context.token)
  assert.is(response.status, 403)
})

test.run()
