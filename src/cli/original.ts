import type { CAC } from 'cac'
import { UsageError } from '../errors.ts'
import { mirrorToClickHouse, plural, withStoreAndClickHouse, type GlobalOptions } from './common.ts'

type ImportOptions = GlobalOptions & { postgres?: unknown; dryRun?: boolean; force?: boolean }

const CONTINUOUS = 'aggregation is continuous here: every measure counts in /aggregate as soon as it is acknowledged'
const ALWAYS_CURRENT = "aggregates_public, this service's filtered_aggregation, is a plain view: always current"

/**
 * Moving from the original service (docs/migration.md): `dacc import-original`, and its cron
 * commands that have nothing left to do here, kept so that existing cron jobs go on working:
 * each says why in one line and exits 0.
 */
export function addOriginalCommands(cli: CAC): void {
  cli
    .command(
      'import-original',
      "Import the original service's PostgreSQL database: definitions, tokens, aggregates, raw measures (see docs/migration.md)",
    )
    .option('--postgres <url>', 'the original database, postgresql://user:password@host:5432/database')
    .option('--dry-run', 'read everything and say what would be imported, change nothing')
    .option('--force', 'import also measures of which this store holds data from elsewhere')
    .action(async (options: ImportOptions) => {
      if (typeof options.postgres !== 'string' || options.postgres === '')
        throw new UsageError('--postgres <url> is required, e.g. postgresql://user:password@host:5432/database')
      const { openOriginal } = await import('../import/postgres.ts')
      const { importOriginal } = await import('../import/import.ts')
      const original = await openOriginal(options.postgres)
      try {
        await withStoreAndClickHouse(options, async (store, run, config) => {
          // Without a server to have done it, a new store gets its ClickHouse schema here, and the chunks
          // of an import killed mid-insert are completed before anything else (src/import/chunks.ts);
          // a dry run changes nothing.
          if (!options.dryRun) {
            await run('migrate')
            const { completed, setAside } = await run('completeImportedRaw')
            if (completed > 0)
              console.log(`Completed ${plural(completed, 'chunk')} of raw measures an interrupted import had left`)
            if (setAside > 0)
              console.log(
                `Set aside ${plural(setAside, 'chunk')} of raw measures ClickHouse refuses (dacc quarantine list)`,
              )
          }
          await importOriginal(original, store, run, {
            dryRun: Boolean(options.dryRun),
            force: Boolean(options.force),
            signingKey: config.auth.signingKey,
            print: console.log,
          })
          if (!options.dryRun) {
            await mirrorToClickHouse(store, run)
            console.log('Done.')
          }
        })
      } finally {
        await original.close()
      }
    })

  cli
    .command(
      'compute-aggregation <measure_name>',
      "Nothing to do here: aggregation is continuous (kept for the original's cron jobs)",
    )
    .option('-f, --force', 'ignored')
    .action((name: string) => console.log(`Nothing to compute for ${name}: ${CONTINUOUS}`))
  cli
    .command(
      'compute-all-aggregations',
      "Nothing to do here: aggregation is continuous (kept for the original's cron jobs)",
    )
    .option('-f, --force', 'ignored')
    .action(() => console.log(`Nothing to compute: ${CONTINUOUS}`))
  for (const verb of ['create', 'update']) {
    cli
      .command(
        `${verb}-filtered-aggregation-view`,
        "Nothing to do here: aggregates_public is always current (kept for the original's cron jobs)",
      )
      .action(() => console.log(`Nothing to ${verb}: ${ALWAYS_CURRENT}`))
  }
}
