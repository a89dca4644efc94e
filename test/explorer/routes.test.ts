import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PUBLIC_DIR, readPublicFiles } from '../../src/explorer/files.ts'
import { CONTENT_SECURITY_POLICY } from '../../src/explorer/routes.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer }
const test = suite<Context>('GET / and GET /explorer/<file>', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
})
test.after(async ({ server }) => server.close())

const read = (name: string) => fs.readFileSync(path.join(PUBLIC_DIR, name), 'utf8')

test('GET / is the explorer page, without a token, under a strict CSP', async ({ server }) => {
  const response = await fetch(`${server.url}/`)
  assert.is(response.status, 200)
  assert.is(response.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.is(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY)
  assert.is(response.headers.get('x-content-type-options'), 'nosniff')
  assert.is(response.headers.get('referrer-policy'), 'no-referrer')
  assert.is(await response.text(), read('index.html'))
  for (const directive of [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
  ]) {
    assert.ok(CONTENT_SECURITY_POLICY.includes(directive), directive)
  }
  assert.not.match(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|\*/)
})

test('each file is served with its content type; HEAD works too', async ({ server }) => {
  const types: Record<string, string> = {
    'explorer.js': 'text/javascript; charset=utf-8',
    'chart.js': 'text/javascript; charset=utf-8',
    'explorer.css': 'text/css; charset=utf-8',
    'favicon.svg': 'image/svg+xml',
    'index.html': 'text/html; charset=utf-8',
  }
  for (const [name, type] of Object.entries(types)) {
    const response = await fetch(`${server.url}/explorer/${name}`)
    assert.equal(
      [response.status, response.headers.get('content-type'), await response.text()],
      [200, type, read(name)],
      name,
    )
    assert.is(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY)
  }
  const head = await fetch(`${server.url}/explorer/explorer.js`, { method: 'HEAD' })
  assert.equal([head.status, head.headers.get('content-type'), await head.text()], [200, types['explorer.js'], ''])
})

test('an unchanged file is revalidated with a 304', async ({ server }) => {
  const first = await fetch(`${server.url}/`)
  const etag = first.headers.get('etag')!
  assert.equal([first.headers.get('cache-control'), etag.length > 10], ['no-cache', true])
  // As a browser revalidates (fetch would add `Cache-Control: no-cache` itself, which forbids a 304).
  const revalidate = { 'If-None-Match': etag, 'Cache-Control': 'max-age=0' }
  const again = await fetch(`${server.url}/`, { headers: revalidate })
  assert.equal([again.status, await again.text()], [304, ''])
  const other = await fetch(`${server.url}/explorer/explorer.js`, { headers: revalidate })
  assert.is(other.status, 200)
})

test('only the files of the public folder: no traversal, no other file', async ({ server }) => {
  for (const attempt of [
    '/explorer/nope.js',
    '/explorer/..%2Froutes.ts',
    '/explorer/%2e%2e%2ffiles.ts',
    '/explorer/..%5Croutes.ts',
    '/explorer/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json',
    '/explorer/',
    '/explorer/public%2Fexplorer.js',
    '/explorer.js',
    '/index.html',
  ]) {
    const response = await fetch(server.url + attempt)
    assert.is(response.status, 404, attempt)
    assert.equal(await response.json(), { error: `Not found: GET ${new URL(server.url + attempt).pathname}` }, attempt)
  }
  const wrongMethod = await fetch(`${server.url}/explorer/explorer.js`, { method: 'POST' })
  assert.is(wrongMethod.status, 405)
})

test('the page holds no inline script, style or event handler (the CSP would block them)', () => {
  const html = read('index.html')
  assert.not.match(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src')
  assert.not.match(html, /<style|\sstyle=|\son[a-z]+=/i)
})

test('a file with no known content type stops the start rather than being served', () => {
  const dir = tempDir()
  fs.writeFileSync(path.join(dir, 'index.html'), '')
  assert.equal([...readPublicFiles(dir).keys()], ['index.html'])
  fs.writeFileSync(path.join(dir, 'notes.txt'), '')
  assert.throws(() => readPublicFiles(dir), /no known content type: notes\.txt/)
})

test.run()
