import path from 'node:path'
import type { CAC } from 'cac'
import { UsageError } from '../errors.ts'
import { loadConfigOf, withStoreAndClickHouse, type GlobalOptions } from './common.ts'

const describe = (rows: Record<string, number>) =>
  `${rows.aggregates} aggregate rows, ${rows.raw_measures} raw measures`

/** `dacc export <dir>` and `dacc import <dir>`: moving a store (docs/scaling.md). */
export function addTransferCommands(cli: CAC): void {
  cli
    .command(
      'export <dir>',
      'Write every aggregate state and raw measure to <dir> (ClickHouse Native files and a manifest)',
    )
    .action(async (dir: string, options: GlobalOptions) => {
      await withStoreAndClickHouse(options, async (_store, run) => {
        const rows = await run('export', { dir: path.resolve(dir) })
        console.log(`Exported to ${path.resolve(dir)}: ${describe(rows)}`)
      })
    })

  cli
    .command('import <dir>', 'Load an export into this (migrated) store; offline: stop dacc serve first')
    .action(async (dir: string, options: GlobalOptions) => {
      const config = await loadConfigOf(options)
      const { serverIsRunning } = await import('../ops/run.ts')
      const { openClickHouse } = await import('../clickhouse/client.ts')
      const { migrate } = await import('../clickhouse/migrate.ts')
      const { importData } = await import('../transfer/transfer.ts')
      // The embedded engine opens in one process: the import runs where no server holds it. (On a
      // ClickHouse server it runs beside the instances: the aggregate view stays attached.)
      if (await serverIsRunning(config)) throw new UsageError('stop dacc serve first: an import runs offline')
      const clickhouse = await openClickHouse(config)
      try {
        await migrate(clickhouse.client, { cluster: config.clickhouse.cluster })
        const rows = await importData(clickhouse, path.resolve(dir))
        console.log(`Imported from ${path.resolve(dir)}: ${describe(rows)}`)
      } finally {
        await clickhouse.close()
      }
    })
}
