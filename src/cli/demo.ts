import type { CAC } from 'cac'
import type { Config } from '../config.ts'
import { UsageError } from '../errors.ts'
import { definitionsOf, loadConfigOf, mirrorToClickHouse, wholeNumber, withStoreAndClickHouse } from './common.ts'
import type { GlobalOptions } from './common.ts'

type DemoOptions = GlobalOptions & { months: string; force?: boolean; wait: string }

// The token that writes the demo's measures belongs to an org of its own, deleted (the token
// revoked) once they are written: a demo leaves no write token behind.
const PRODUCER = 'demo-producer'

/** `dacc demo`: readable definitions and months of measures to look at, through the running server. */
export function addDemoCommand(cli: CAC): void {
  cli
    .command(
      'demo',
      "Seed demo definitions and months of measures through the running server, then print a read token and the explorer's URL (a rerun adds nothing)",
    )
    .option('--months <n>', 'months of measures, from January 2025 (1 to 12)', { default: '3' })
    .option('--force', "seed a store that holds definitions other than the demo's too (a real deployment)")
    .option('--wait <seconds>', 'how long to wait for the server to answer', { default: '30' })
    .action(async (options: DemoOptions) => {
      const { DEMO, DEMO_DEFINITIONS, FIRST_MEASURE, MAX_MONTHS, monthStart } = await import('../demo/data.ts')
      const { seedDemo, waitForServer } = await import('../demo/seed.ts')
      const months = wholeNumber('--months', options.months, { max: MAX_MONTHS })
      const wait = wholeNumber('--wait', options.wait, { min: 0, max: 3600 })
      // The server first: a CLI started with it would otherwise reach for the store as it opens it.
      const url = serverUrl(await loadConfigOf(options))
      await waitForServer(url, wait, () => console.error(`Waiting for the server at ${url}...`))

      await withStoreAndClickHouse(options, async (store, run, config) => {
        const definitions = await definitionsOf(store)
        const names = new Set(DEMO_DEFINITIONS.map((definition) => definition.name))
        const others = definitions
          .list()
          .map(({ definition }) => definition.name)
          .filter((name) => !names.has(name))
        if (others.length > 0 && !options.force) {
          throw new UsageError(
            `${config.dataDir} holds other definitions (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}): ` +
              'the demo seeds a data directory of its own (DACC_DATA_DIR=demo-data for npm start and dacc demo), or this one with --force',
          )
        }
        const { inserted, updated } = definitions.upsert(DEMO_DEFINITIONS)
        await mirrorToClickHouse(store, run)
        console.log(`Demo definitions: ${[...names].join(', ')} (${inserted.length} new, ${updated.length} updated)`)

        const tokens = (await import('../tokens/tokens.ts')).createTokens(store, config.auth.signingKey)
        const read = await tokens.create(DEMO, ['aggregate:read'])
        let seeded: { sent: number; present: number }
        try {
          seeded = await seedDemo(url, { read, write: await tokens.create(PRODUCER, ['measure:write']) }, months)
        } finally {
          tokens.deleteOrg(PRODUCER)
        }
        console.log(
          `Demo measures: ${seeded.sent} sent, ${seeded.present} already there (${months} months from ${monthStart(0)})`,
        )
        console.log(`Read token (org ${DEMO}, scope aggregate:read): ${read}`)
        const link = new URLSearchParams({ measure: FIRST_MEASURE, start: monthStart(0), end: monthStart(months) })
        console.log(`Explorer: ${url}/?${link} (paste the read token, press Load measures)`)
      })
    })
}

// A server listening on every address is reached on the loopback one.
const WILDCARD_HOSTS: Record<string, string> = { '0.0.0.0': '127.0.0.1', '::': '::1', '': '127.0.0.1' }

/** Where this configuration's server answers, as seen from this host. */
function serverUrl(config: Config): string {
  if (config.port === 0)
    throw new UsageError('port is 0 in the configuration: the demo cannot tell where the server is')
  const host = WILDCARD_HOSTS[config.host] ?? config.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`
}
