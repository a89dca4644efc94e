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
  const start = async () => {
    process_ = spawn(
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
    for (const deadline = Date.now() + 20_000; !mounted(mount); ) {
      if (Date.now() > deadline || process_.exitCode !== null) throw new Error('LazyFS did not mount')
      await sleep(50)
    }
  }
  const stop = async () => {
    if (mounted(mount)) execFileSync('fusermount3', ['-u', '-z', mount], { stdio: 'ignore' })
    process_?.kill('SIGKILL')
    await sleep(100)
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
