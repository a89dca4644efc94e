import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  ClickHouseUnavailable,
  clusterSettings,
  isSupportedVersion,
  openClickHouse,
} from '../../src/clickhouse/client.ts'
import { testConfig } from '../helpers/server.ts'

const test = suite('openClickHouse')

type Request = { url: URL; body: string }

/**
 * A stand-in for a ClickHouse server over HTTP that answers version() with `version`, and refuses
 * settings it does not know when that version is old, as such a server does.
 */
async function fakeServer(
  version: string,
  replicas: number[] = [],
): Promise<{ url: string; requests: Request[]; close(): void }> {
  const requests: Request[] = []
  const server = http.createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const url = new URL(req.url!, 'http://localhost')
    requests.push({ url, body })
    if (!isSupportedVersion(version) && url.searchParams.has('date_time_input_format')) {
      res.writeHead(500).end('Code: 115. DB::Exception: Unknown setting date_time_input_format')
    } else if (body.includes('version()')) {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' }).end(`${JSON.stringify({ version })}\n`)
    } else if (body.includes('FROM system.clusters') && url.searchParams.get('param_cluster') === 'c1') {
      // A server quotes 64-bit counts by default.
      const rows = replicas.map((count, index) => JSON.stringify({ shard_num: index + 1, replicas: String(count) }))
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' }).end(rows.map((row) => `${row}\n`).join(''))
    } else {
      res.writeHead(200).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, requests, close: () => server.close() }
}

const serverConfig = (url: string, cluster = '') => testConfig({ clickhouse: { url, cluster } })

test('versions from 24.8 on are supported, compared as numbers', () => {
  for (const version of ['24.8.1.1', '24.10', '26.7.2.1', '25.1.3.23']) assert.ok(isSupportedVersion(version), version)
  for (const version of ['24.7.3.42', '23.12', '18.16.1', 'unknown'])
    assert.not.ok(isSupportedVersion(version), version)
})

test('a server older than 24.8 is refused in one clear line', async () => {
  const server = await fakeServer('23.3.1')
  try {
    await openClickHouse(serverConfig(server.url)).then(
      () => assert.unreachable('should refuse'),
      (err) => {
        assert.instance(err, ClickHouseUnavailable)
        assert.is(err.message, 'ClickHouse 23.3.1 is too old: DACC needs 24.8 or later')
      },
    )
    assert.is(server.requests.length, 1, 'nothing but version() is sent to it')
  } finally {
    server.close()
  }
})

test('on a cluster, the database is created ON CLUSTER and every query carries the cluster settings', async () => {
  const server = await fakeServer('24.8.14.39', [2, 2])
  try {
    const clickhouse = await openClickHouse(serverConfig(server.url, 'c1'))
    assert.is(clickhouse.version, '24.8.14.39')
    assert.ok(server.requests.some((request) => request.body === 'CREATE DATABASE IF NOT EXISTS dacc ON CLUSTER c1'))
    await clickhouse.client.command({ query: 'SELECT 1' })
    const { searchParams } = server.requests.at(-1)!.url
    // 2 shards of 2 replicas, the default 30 s request timeout: test/clickhouse/cluster.test.ts has the sizing.
    assert.equal(
      Object.fromEntries(Object.keys(clusterSettings([2], 1)).map((name) => [name, searchParams.get(name)])),
      {
        distributed_foreground_insert: '1',
        insert_quorum: '2',
        insert_quorum_timeout: '15000',
        insert_quorum_parallel: '1',
        load_balancing: 'in_order',
        prefer_localhost_replica: '0',
      },
    )
    await clickhouse.close()
  } finally {
    server.close()
  }
})

test('a cluster the server does not list is refused in one line, before any DDL', async () => {
  const server = await fakeServer('24.8.14.39')
  try {
    await openClickHouse(serverConfig(server.url, 'c1')).then(
      () => assert.unreachable('should refuse'),
      (err) => {
        assert.instance(err, ClickHouseUnavailable)
        assert.is(err.message, `the ClickHouse server at ${server.url}/ has no cluster c1 (system.clusters)`)
      },
    )
    assert.not.ok(server.requests.some((request) => request.body.includes('CREATE')))
  } finally {
    server.close()
  }
})

test('an unreachable server, or a cluster without one, is refused in one line', async () => {
  const refused = (config: ReturnType<typeof testConfig>, message: RegExp) =>
    openClickHouse(config).then(
      () => assert.unreachable('should refuse'),
      (err) => {
        assert.instance(err, ClickHouseUnavailable)
        assert.match(err.message, message)
      },
    )
  await refused(serverConfig('http://127.0.0.1:1'), /^cannot reach ClickHouse at http:\/\/127\.0\.0\.1:1\/: /)
  await refused(testConfig({ clickhouse: { cluster: 'c1' } }), /^clickhouse\.cluster needs clickhouse\.url/)
  await refused(serverConfig('http://127.0.0.1:1', 'my-cluster'), /^clickhouse\.cluster must be a plain identifier/)
})

test('the embedded engine reports its version', async () => {
  const clickhouse = await openClickHouse(testConfig())
  assert.ok(isSupportedVersion(clickhouse.version), clickhouse.version)
  await clickhouse.close()
})

test.run()
