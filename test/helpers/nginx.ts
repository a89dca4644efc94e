import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { ROOT, tempDir } from './server.ts'

/** The load balancer's configuration docker-compose.cluster.yml mounts, the one the routing test runs. */
export const NGINX_CONF = 'deploy/cluster/nginx.conf'

/** Debian's nginx. */
export const NGINX = '/usr/sbin/nginx'

export const readNginxConf = () => fs.readFileSync(path.join(ROOT, NGINX_CONF), 'utf8')

const UPSTREAM = /^upstream\s+dacc\s*\{[^}]*\}/m
const SERVER = /^(\s*server\s+)(\S+?)(\s[^;]*)?;/gm
const LISTEN = /^(\s*listen\s+)(\d+);/m

/** The addresses (host:port) of the `dacc` upstream's servers. */
export function upstreamServers(conf: string): string[] {
  const upstream = UPSTREAM.exec(conf)
  if (!upstream) throw new Error('no upstream dacc block')
  return [...upstream[0].matchAll(SERVER)].map((match) => match[2])
}

/** The port the load balancer listens on. */
export function listenPort(conf: string): number {
  const listen = LISTEN.exec(conf)
  if (!listen) throw new Error('no listen directive with a port alone')
  return Number(listen[2])
}

/**
 * The shipped configuration with its upstream servers' addresses replaced by `servers`, one for
 * one and in order (their parameters kept), listening on `listen` (host:port) instead: nothing
 * else changes, so what runs is what ships.
 */
export function renderNginxConf(conf: string, servers: string[], listen: string): string {
  const upstream = UPSTREAM.exec(conf)
  if (!upstream) throw new Error('no upstream dacc block')
  const shipped = upstreamServers(conf)
  if (shipped.length !== servers.length) {
    throw new Error(`the upstream has ${shipped.length} servers, ${servers.length} given`)
  }
  if (!LISTEN.test(conf)) throw new Error('no listen directive with a port alone')
  let index = 0
  const rendered = upstream[0].replace(
    SERVER,
    (_, head, _address, params = '') => `${head}${servers[index++]}${params};`,
  )
  return conf.replace(upstream[0], () => rendered).replace(LISTEN, (_, head) => `${head}${listen};`)
}

export type Nginx = {
  url: string
  /** The access log's lines: `<X-Producer header> <upstream address(es)> <status>`. */
  routes(): string[]
  stop(): Promise<void>
}

/**
 * Starts nginx in the foreground in a temp dir with `conf` (http context) as its only server,
 * unprivileged (as nobody when this runs as root), and resolves once it listens on `port`.
 */
export async function startNginx(conf: string, port: number): Promise<Nginx> {
  const dir = tempDir('dacc-nginx-')
  const file = (name: string) => path.join(dir, name)
  fs.writeFileSync(file('dacc.conf'), conf)
  fs.writeFileSync(
    file('nginx.conf'),
    `pid ${file('nginx.pid')};
error_log ${file('error.log')} warn;
daemon off;
worker_processes 1;
events { worker_connections 512; }
http {
    log_format routes '$http_x_producer $upstream_addr $status';
    access_log ${file('access.log')} routes;
    client_body_temp_path ${file('body')};
    proxy_temp_path ${file('proxy')};
    fastcgi_temp_path ${file('fastcgi')};
    uwsgi_temp_path ${file('uwsgi')};
    scgi_temp_path ${file('scgi')};
    include ${file('dacc.conf')};
}
`,
  )
  const nobody = process.getuid?.() === 0 ? 65534 : undefined
  if (nobody !== undefined) {
    for (const name of ['', 'dacc.conf', 'nginx.conf']) fs.chownSync(file(name), nobody, nobody)
  }
  const child: ChildProcess = spawn(NGINX, ['-e', file('error.log'), '-p', dir, '-c', file('nginx.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(nobody !== undefined ? { uid: nobody, gid: nobody } : {}),
  })
  let output = ''
  child.stdout?.on('data', (chunk) => (output += chunk))
  child.stderr?.on('data', (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const log = () => `${output}${fs.existsSync(file('error.log')) ? fs.readFileSync(file('error.log'), 'utf8') : ''}`
  for (const deadline = Date.now() + 10_000; !(await accepts(port)); ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`nginx did not start: ${log()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    routes: () => fs.readFileSync(file('access.log'), 'utf8').trim().split('\n'),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
