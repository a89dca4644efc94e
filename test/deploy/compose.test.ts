import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parse } from 'yaml'
import { listenPort, NGINX_CONF, readNginxConf, renderNginxConf, upstreamServers } from '../helpers/nginx.ts'
import { freePort } from '../helpers/ports.ts'
import { ROOT, startTestServer } from '../helpers/server.ts'

// No Docker engine here: what `docker compose up` relies on for several instances is checked in
// the files themselves, the image's healthcheck by running its command. The load balancer's
// configuration runs for real in test/deploy/routing.test.ts.
const test = suite('compose files: a journal per instance, the shared store, the load balancer, healthchecks')

type Service = {
  build?: string
  image?: string
  environment?: Record<string, string>
  volumes?: string[]
  ports?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: unknown
  restart?: string
}
type Compose = { services: Record<string, Service>; volumes: Record<string, unknown> }

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8')
// Merge keys (`<<: *dacc`) as compose applies them.
const compose = (file: string) => parse(read(file), { merge: true }) as Compose
const FILES = ['docker-compose.yml', 'docker-compose.cluster.yml']

/** The Dockerfile's instructions of its last stage (the image), continuation lines joined. */
function imageInstructions(): string[] {
  const lines = read('Dockerfile')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
  return lines.slice(lines.findLastIndex((line) => line.startsWith('FROM ')))
}
const image = imageInstructions()
const imageEnv = Object.fromEntries(
  image
    .filter((line) => line.startsWith('ENV '))
    .flatMap((line) => line.slice(4).trim().split(/\s+/))
    .map((pair) => pair.split('=') as [string, string]),
)

/** The services built from this repository: the DACC instances. */
const instances = (file: Compose) => Object.entries(file.services).filter(([, service]) => service.build === '.')
/** What a container of the image sees: the image's environment, then the service's. */
const envOf = (service: Service) => ({ ...imageEnv, ...service.environment })
/** Named volumes mounted by a service: container path → volume. */
const namedMounts = (service: Service) =>
  new Map(
    (service.volumes ?? [])
      .filter((volume) => !volume.startsWith('.') && !volume.startsWith('/'))
      .map((volume) => volume.split(':'))
      .map(([name, target]) => [target, name]),
  )

test('every instance has a journal volume of its own, which nothing else mounts', () => {
  for (const file of FILES) {
    const { services, volumes } = compose(file)
    const journals = instances({ services, volumes }).map(([name, service]) => {
      const journalDir = envOf(service).DACC_INGEST_JOURNAL_DIR
      assert.ok(journalDir?.startsWith('/'), `${file} ${name}: the journal's directory is set`)
      const volume = namedMounts(service).get(journalDir)
      assert.ok(volume, `${file} ${name}: a volume is mounted at ${journalDir}`)
      assert.ok(volume! in volumes, `${file}: volume ${volume} is declared`)
      return volume!
    })
    assert.ok(journals.length > 0, file)
    assert.is(new Set(journals).size, journals.length, `${file}: journal volumes ${journals}`)
    for (const [name, service] of Object.entries(services)) {
      const mounted = [...namedMounts(service).values()].filter((volume) => journals.includes(volume))
      assert.ok(mounted.length <= 1, `${file} ${name} mounts several journals`)
    }
  }
  assert.is(instances(compose('docker-compose.cluster.yml')).length, 2)
})

test('the instances share one volume, holding the SQLite store only', () => {
  for (const file of FILES) {
    const shared = instances(compose(file)).map(([name, service]) => {
      const env = envOf(service)
      const [dataDir, journalDir] = [env.DACC_DATA_DIR, env.DACC_INGEST_JOURNAL_DIR]
      // The store is <dataDir>/dacc.sqlite; the journal's default, <dataDir>/journal, would be shared.
      assert.ok(dataDir?.startsWith('/'), `${file} ${name}`)
      assert.not.ok(`${journalDir}/`.startsWith(`${dataDir}/`), `${file} ${name}: the journal is not in ${dataDir}`)
      assert.not.ok(`${dataDir}/`.startsWith(`${journalDir}/`), `${file} ${name}`)
      const mounts = namedMounts(service)
      const volume = mounts.get(dataDir)
      assert.ok(volume, `${file} ${name}: a volume is mounted at ${dataDir}`)
      assert.equal(
        [...mounts].filter(([target]) => target !== dataDir && `${target}/`.startsWith(`${dataDir}/`)),
        [],
        `${file} ${name}: nothing else is mounted in ${dataDir}`,
      )
      return volume!
    })
    assert.is(new Set(shared).size, 1, `${file}: ${shared}`)
  }
})

test('the image prepares both directories for its user and declares them volumes', () => {
  assert.is(imageEnv.DACC_DATA_DIR, '/data')
  assert.is(imageEnv.DACC_INGEST_JOURNAL_DIR, '/journal')
  const prepare = image.find((line) => line.startsWith('RUN mkdir'))!
  assert.match(prepare, 'chown node:node /data /journal')
  assert.match(prepare, 'chmod 0700 /data /journal')
  assert.ok(image.includes('VOLUME ["/data", "/journal"]'))
  assert.ok(image.includes('USER node'))
})

test("an instance is restarted when it crashes, not when it drains; compose keeps the image's healthcheck", () => {
  for (const file of FILES) {
    for (const [name, service] of instances(compose(file))) {
      assert.is(service.restart, 'on-failure', `${file} ${name}`)
      assert.is(service.healthcheck, undefined, `${file} ${name}: the image's healthcheck`)
    }
  }
})

/** The image's HEALTHCHECK: its options and the command Docker runs. */
function healthcheck(): { options: string; command: string[] } {
  const line = image.find((instruction) => instruction.startsWith('HEALTHCHECK '))!
  const [, options, command] = /^HEALTHCHECK (.*?) CMD (\[.*\])$/.exec(line)!
  return { options, command: JSON.parse(command) }
}

/** Runs the healthcheck's command as Docker would, against an instance on `port`: its exit code. */
function runHealthcheck(port: number): Promise<number | null> {
  const [program, ...args] = healthcheck().command
  assert.is(program, 'node')
  // Not spawnSync: the instance may be this process's own test server.
  const child = spawn(process.execPath, args, { env: { DACC_PORT: String(port) }, stdio: 'ignore', timeout: 10_000 })
  return new Promise((resolve) => child.on('exit', resolve))
}

/** A stand-in answering GET /status with the contract's answers (the app's own are below). */
async function statusAnswering(status: number, body: unknown): Promise<{ port: number; close(): void }> {
  const server = http.createServer((_, res) =>
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body)),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, close: () => server.close() }
}

test('the healthcheck passes while the instance takes writes, degraded included, and fails on a 503', async () => {
  assert.match(healthcheck().options, '--start-period=')
  const server = await startTestServer()
  try {
    assert.is(await runHealthcheck(Number(new URL(server.url).port)), 0, 'a real instance')
  } finally {
    await server.close()
  }
  const degraded = await statusAnswering(200, {
    db: { status: 'ko', error: 'Connection refused' },
    writes: { status: 'degraded', error: 'loading into ClickHouse fails', backlog: 1200 },
    global_status: 'degraded',
  })
  const ko = await statusAnswering(503, {
    writes: { status: 'ko', error: 'draining' },
    global_status: 'ko',
  })
  try {
    assert.is(await runHealthcheck(degraded.port), 0, 'absorbing a ClickHouse outage in its journal')
    assert.is(await runHealthcheck(ko.port), 1, 'its journal takes no writes')
  } finally {
    degraded.close()
    ko.close()
  }
  assert.is(await runHealthcheck(await freePort()), 1, 'not listening')
})

test('nginx runs the configuration that lists every instance, and opens once they take writes', () => {
  const { services } = compose('docker-compose.cluster.yml')
  const nginx = services.nginx
  assert.ok(nginx.volumes?.includes(`./${NGINX_CONF}:/etc/nginx/conf.d/default.conf:ro`), String(nginx.volumes))
  const conf = readNginxConf()
  const ring = instances({ services, volumes: {} }).map(([name, service]) => `${name}:${envOf(service).DACC_PORT}`)
  assert.equal(upstreamServers(conf), ring)
  assert.ok(nginx.ports?.includes(`5000:${listenPort(conf)}`), String(nginx.ports))
  for (const [name] of instances({ services, volumes: {} }))
    assert.equal(nginx.depends_on?.[name], { condition: 'service_healthy' }, name)
  assert.match(conf, /^\s*hash \$dacc_token consistent;$/m)
})

test('the key nginx hashes is the bearer token alone, read as DACC reads it', () => {
  const [, pattern] = /"~\*(.*)" \$token;/.exec(readNginxConf())!
  const token = (header: string) => new RegExp(pattern, 'i').exec(header)?.groups?.token ?? ''
  assert.is(token('Bearer abc.DEF-1_2~+/='), 'abc.DEF-1_2~+/=')
  assert.is(token('bearer  abc  '), 'abc')
  for (const header of ['Basic abc', 'Bearer', 'Bearer a b', 'Bearerabc']) assert.is(token(header), '', header)
})

test('the routing test renders the shipped file with its servers and port replaced, and nothing else', () => {
  const conf = readNginxConf()
  const rendered = renderNginxConf(conf, ['127.0.0.1:1001', '127.0.0.1:1002'], '127.0.0.1:1003')
  assert.equal(upstreamServers(rendered), ['127.0.0.1:1001', '127.0.0.1:1002'])
  assert.is(listenPort(conf), 5000)
  assert.match(rendered, /^\s*listen 127\.0\.0\.1:1003;$/m)
  assert.match(rendered, /^\s*server 127\.0\.0\.1:1001 max_fails=\d+ fail_timeout=\d+s;$/m)
  // Back to the shipped names: the very same file.
  const [first, second] = upstreamServers(conf)
  assert.is(
    rendered.replace('127.0.0.1:1001', first).replace('127.0.0.1:1002', second).replace('127.0.0.1:1003', '5000'),
    conf,
  )
  assert.throws(() => renderNginxConf(conf, ['127.0.0.1:1001'], '127.0.0.1:1003'), /has 2 servers, 1 given/)
  assert.throws(() => renderNginxConf('server { listen 80; }', [], '127.0.0.1:1'), /no upstream dacc block/)
})

test.run()
