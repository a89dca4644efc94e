import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ROOT } from '../../src/root.ts'

/**
 * LazyFS (../shared/tools/lazyfs, the tool Jepsen uses): a FUSE file system over a directory that
 * keeps every write in its own cache until fsync, and drops all of it when told to — a power cut
 * on demand. What it cannot model: a lost rename or unlink (those reach the disk at once), see its
 * README. Needs root and /dev/fuse; built from its sources by its build.sh (Debian packages only).
 */
export type LazyFs = {
  /** The mount point: what is written here is lost unless fsynced, at `powerCut()`. */
  mount: string
  /** Drops every write not fsynced (and remounts LazyFS if it died meanwhile, which loses them as well). */
  powerCut(): Promise<void>
  /** How many times LazyFS itself died (a crash of the prototype, not of what runs on it). */
  readonly deaths: number
  unmount(): Promise<void>
}

const SOURCES = [
  process.env.DACC_LAZYFS_SOURCES,
  path.resolve(ROOT, '../shared/tools/lazyfs'),
  '/work/shared/tools/lazyfs',
].filter((dir): dir is string => Boolean(dir))

/** Where LazyFS's sources are, if anywhere; and whether this machine can mount it. */
export function lazyFsAvailable(): { sources?: string; why?: string } {
  const sources = SOURCES.find((dir) => fs.existsSync(path.join(dir, 'build.sh')))
  if (!sources) return { why: `LazyFS's sources are not at ${SOURCES.join(' or ')}` }
  if (process.getuid?.() !== 0) return { why: 'mounting LazyFS needs root' }
  if (!fs.existsSync('/dev/fuse')) return { why: 'no /dev/fuse' }
  return { sources }
}

export async function mountLazyFs(sources: string): Promise<LazyFs> {
  // .ci/run builds it ahead, there, while npm installs.
  const build = process.env.DACC_LAZYFS_BUILD ?? path.join(os.tmpdir(), 'dacc-lazyfs-build')
  const binary = path.join(build, 'lazyfs', 'lazyfs')
  if (!fs.existsSync(binary)) execFileSync('bash', [path.join(sources, 'build.sh'), build], { stdio: 'ignore' })
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dacc-lazyfs-'))
  const fifo = path.join(work, 'faults.fifo')
  const under = path.join(work, 'under')
  const mount = path.join(work, 'mnt')
  fs.mkdirSync(under)
  fs.mkdirSync(mount)
  fs.writeFileSync(
    path.join(work, 'lazyfs.toml'),
    `[faults]\nfifo_path="${fifo}"\n[cache]\napply_eviction=false\n[cache.simple]\ncustom_size="512mb"\nblocks_per_page=1\n[filesystem]\nlog_all_operations=false\nlogfile=""\n`,
  )
  let process_: ChildProcess | undefined
  let deaths = 0
  let stopping = false
  const start = async () => {
    const started = spawn(
      binary,
      [
        mount,
        '--config-path',
        path.join(work, 'lazyfs.toml'),
        '-o',
        'allow_other',
        '-o',
        'modules=subdir',
        '-o',
        `subdir=${under}`,
      ],
      { stdio: 'ignore' },
    )
    process_ = started
    started.on('exit', () => {
      if (process_ === started && !stopping) deaths++
    })
    for (const deadline = Date.now() + 20_000; !mounted(mount); ) {
      if (Date.now() > deadline || process_.exitCode !== null) throw new Error('LazyFS did not mount')
      await sleep(50)
    }
  }
  const stop = async () => {
    stopping = true
    if (mounted(mount)) execFileSync('fusermount3', ['-u', '-z', mount], { stdio: 'ignore' })
    process_?.kill('SIGKILL')
    await sleep(100)
    stopping = false
  }
  await start()
  return {
    mount,
    async powerCut() {
      // A research prototype: it has crashed during long runs. Dead, it has lost its cache: a power cut too.
      if (process_?.exitCode === null && mounted(mount)) {
        await fs.promises.writeFile(fifo, 'lazyfs::clear-cache\n')
        await sleep(300)
      }
      if (process_?.exitCode !== null || !reachable(mount)) {
        await stop()
        await start()
      }
    },
    get deaths() {
      return deaths
    },
    unmount: stop,
  }
}

const mounted = (mount: string) => fs.readFileSync('/proc/mounts', 'utf8').includes(` ${mount} fuse`)

function reachable(mount: string): boolean {
  try {
    fs.readdirSync(mount)
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs `fn` on a fresh LazyFS mount; when LazyFS itself died during a run that failed, the run is
 * redone on a new mount (at most `tries` times): its README says the prototype crashes during long
 * runs, and that is no failure of the system under test. A failure with LazyFS alive throws.
 */
export async function onLazyFs(sources: string, fn: (lazyfs: LazyFs) => Promise<void>, tries = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const lazyfs = await mountLazyFs(sources)
    try {
      await fn(lazyfs)
      return
    } catch (err) {
      if (lazyfs.deaths === 0 || attempt >= tries) throw err
      console.log(`  (LazyFS itself died during the run, ${lazyfs.deaths} time(s): run again on a new mount)`)
    } finally {
      await lazyfs.unmount()
    }
  }
}
