import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { freePort } from './ports.ts'
import { tempDir } from './server.ts'

/**
 * A throwaway PostgreSQL cluster, as a user of the original service has one: Debian's binaries
 * (package postgresql, /usr/lib/postgresql/<version>/bin), initdb and pg_ctl in a temp dir, on a
 * free port of 127.0.0.1, password authentication, no system service. PostgreSQL refuses to run
 * as root: then its binaries run as the `postgres` user the Debian package creates.
 */
export type Postgres = { url: string; stop(): void }

/** The bin directory of the newest installed PostgreSQL, or null when there is none. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql'
  if (!fs.existsSync(root)) return null
  const versions = fs
    .readdirSync(root)
    .filter((version) => fs.existsSync(path.join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length ? path.join(root, versions[0], 'bin') : null
}

export async function startPostgres(bin: string): Promise<Postgres> {
  const dir = tempDir('dacc-pg-')
  const asRoot = process.getuid?.() === 0
  const run = (command: string, args: string[]) =>
    execFileSync(
      asRoot ? 'runuser' : path.join(bin, command),
      asRoot ? ['-u', 'postgres', '--', path.join(bin, command), ...args] : args,
      { stdio: 'pipe', cwd: dir },
    )
  const password = 'original-secret'
  fs.writeFileSync(path.join(dir, 'password'), password)
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim())
    for (const file of [dir, path.join(dir, 'password')]) fs.chownSync(file, id('-u'), id('-g'))
  }
  run('initdb', [
    '-D',
    path.join(dir, 'data'),
    '-U',
    'dacc',
    '--auth=scram-sha-256',
    `--pwfile=${path.join(dir, 'password')}`,
    '-E',
    'UTF8',
    '--no-sync',
  ])
  const port = await freePort()
  const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
  run('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'log'), '-o', settings, '-w', 'start'])
  return {
    url: `postgresql://dacc:${password}@127.0.0.1:${port}/postgres`,
    stop() {
      run('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop'])
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
