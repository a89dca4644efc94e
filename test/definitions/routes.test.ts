import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer }
const test = suite<Context>('GET /definitions', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
})
test.after(async ({ server }) => server.close())

const list = async (server: TestServer, token: string) => {
  const response = await fetch(`${server.url}/definitions`, { headers: { Authorization: `Bearer ${token}` } })
  return { status: response.status, body: await response.json() }
}

test('a missing token gets 401, a token without aggregate:read 403', async ({ server }) => {
  const anonymous = await fetch(`${server.url}/definitions`)
  assert.is(anonymous.status, 401)
  assert.equal(await anonymous.json(), { error: 'Unauthorized Access' })
  assert.equal(await list(server, await server.token(['measure:write'])), {
    status: 403,
    body: { error: 'This token does not have the aggregate:read scope' },
  })
})

test('readable definitions only, by name, public fields (privacy options included) only, absent ones omitted, changes seen at once', async ({
  server,
}) => {
  const token = await server.token(['aggregate:read'])
  server.define(
    {
      name: 'zeta-public',
      org: 'cozy',
      createdBy: 'ecolyo',
      description: 'Connections by device',
      group1Key: 'device',
      group2Key: 'os',
      group3Key: 'browser',
      aggregationPeriod: 'day',
      executionFrequency: 'day',
      aggregationThreshold: 10,
      accessPublic: true,
      withQuartiles: true,
      maxDaysToUpdateQuartile: 30,
    },
    { name: 'alpha-app', accessApp: true },
    { name: 'hidden', description: 'not for readers', accessApp: false, accessPublic: false },
    {
      name: 'private-app',
      accessApp: true,
      thresholdOn: 'contributors',
      hideExtremes: true,
      fixedPublication: true,
      noise: { epsilon: 0.5, valueMin: 0, valueMax: 1000 },
    },
  )
  assert.equal(await list(server, token), {
    status: 200,
    body: [
      { name: 'alpha-app', aggregationThreshold: 5, withQuartiles: false },
      // The privacy options, which say how to read its answers.
      {
        name: 'private-app',
        aggregationThreshold: 5,
        withQuartiles: false,
        thresholdOn: 'contributors',
        hideExtremes: true,
        noise: { epsilon: 0.5, valueMin: 0, valueMax: 1000 },
        fixedPublication: true,
      },
      {
        name: 'zeta-public',
        description: 'Connections by device',
        group1Key: 'device',
        group2Key: 'os',
        group3Key: 'browser',
        aggregationPeriod: 'day',
        aggregationThreshold: 10,
        withQuartiles: true,
      },
    ],
  })
  server.define({ name: 'alpha-app', accessApp: false }, { name: 'hidden', accessApp: true })
  assert.equal(
    ((await list(server, token)).body as { name: string }[]).map((definition) => definition.name),
    ['hidden', 'private-app', 'zeta-public'],
  )
})

test.run()
