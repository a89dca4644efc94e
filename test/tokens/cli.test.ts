import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli, startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; env: Record<string, string> }
const test = suite<Context>('dacc token', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.server.define({ name: 'm', aggregationThreshold: 1 })
  context.env = { DACC_DATA_DIR: context.server.config.dataDir }
})
test.after(async ({ server }) => server.close())

const TOKEN_LINE = /^Token created for ([^:]+): (\S+)\n$/

const postWith = (server: TestServer, token: string) =>
  server.post('/measure', { measureName: 'm', value: 1, startDate: '2022-01-01' }, token)

test('create prints the token line; the running server accepts the token at once', async ({ server, env }) => {
  const { code, stdout } = await runCli(['token', 'create', 'acme'], env)
  assert.is(code, 0)
  const [, org, token] = TOKEN_LINE.exec(stdout) ?? []
  assert.is(org, 'acme')
  assert.is((await postWith(server, token)).status, 201)
})

test('get lists the tokens without the secret', async ({ env }) => {
  const created = await runCli(['token', 'create', 'lister'], env)
  const token = TOKEN_LINE.exec(created.stdout)![2]
  const { code, stdout } = await runCli(['token', 'get', 'lister'], env)
  assert.is(code, 0)
  assert.ok(stdout.includes('measure:write,aggregate:read'))
  assert.ok(stdout.includes('active'))
  assert.not.ok(stdout.includes(token))
})

test('update rotates: the old token is refused on the next request, the new one works', async ({ server, env }) => {
  const old = TOKEN_LINE.exec((await runCli(['token', 'create', 'rotor'], env)).stdout)![2]
  assert.is((await postWith(server, old)).status, 201)
  const { code, stdout } = await runCli(['token', 'update', 'rotor'], env)
  assert.is(code, 0)
  const fresh = TOKEN_LINE.exec(stdout)![2]
  assert.is((await postWith(server, old)).status, 401)
  assert.is((await postWith(server, fresh)).status, 201)
})

test('delete-org revokes at once while the server runs', async ({ server, env }) => {
  const token = TOKEN_LINE.exec((await runCli(['token', 'create', 'gone'], env)).stdout)![2]
  assert.is((await postWith(server, token)).status, 201)
  const { code, stdout } = await runCli(['token', 'delete-org', 'gone'], env)
  assert.is(code, 0)
  assert.match(stdout, /Org deleted: gone \(1 token revoked\)/)
  const response = await postWith(server, token)
  assert.is(response.status, 401)
  assert.equal(await response.json(), { error: 'Unauthorized Access' })
})

test('an expired token is refused', async ({ server }) => {
  const token = await server.deps.tokens.create('short', undefined, 1)
  assert.ok(await server.deps.tokens.verify(token))
  const realNow = Date.now
  Date.now = () => realNow() + 2 * 86_400_000
  try {
    assert.is(await server.deps.tokens.verify(token), null)
  } finally {
    Date.now = realNow
  }
})

test('bad arguments: one line on stderr, non-zero exit', async ({ env }) => {
  for (const args of [
    ['token', 'get', 'nobody'],
    ['token', 'update', 'nobody'],
    ['token', 'create'],
    ['token', 'create', ''],
    ['token', 'frobnicate', 'x'],
    ['token', 'create', 'x', '--scopes', 'admin'],
    ['nope'],
  ]) {
    const { code, stdout, stderr } = await runCli(args, env)
    assert.is.not(code, 0, args.join(' '))
    assert.is(stdout, '', args.join(' '))
    assert.is(stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${stderr}`)
  }
})

test('--help on every command', async ({ env }) => {
  for (const args of [
    ['--help'],
    ['token', '--help'],
    ['token', 'create', '--help'],
    ['serve', '--help'],
    ['insert-definitions-json', '--help'],
  ]) {
    const { code, stdout } = await runCli(args, env)
    assert.is(code, 0, args.join(' '))
    assert.match(stdout, /Usage:/, args.join(' '))
  }
})

test.run()
