import { openClickHouse, type ClickHouse } from '../clickhouse/client.ts'
import type { Config } from '../config.ts'
import { runLocally, typed, type RunOperation } from './operations.ts'
import { askServer, socketPath } from './socket.ts'

/** Whether a `dacc serve` answers on the data directory's socket (embedded mode only). */
export async function serverIsRunning(config: Config): Promise<boolean> {
  return !config.clickhouse.url && (await askServer(socketPath(config.dataDir), 'ping', undefined)) !== null
}

/**
 * Runs `fn` with a way to run operations from the CLI. With the embedded engine, a running
 * `dacc serve` holds the data directory (a second process cannot open it, and the engine would
 * complain on stderr by itself), so each operation first goes to the server's socket; only when
 * no server answers does the CLI open the engine itself, once, closed when `fn` is done. A
 * ClickHouse server (clickhouse.url) takes any number of clients: the CLI connects itself.
 */
export async function withOperations<T>(config: Config, fn: (run: RunOperation) => Promise<T>): Promise<T> {
  let opened: Promise<ClickHouse> | undefined
  const run = typed(async (name, args) => {
    if (!config.clickhouse.url) {
      const answer = await askServer(socketPath(config.dataDir), name, args)
      if (answer) return answer.result
    }
    opened ??= openClickHouse(config)
    const { client, chdb } = await opened
    return runLocally({ client, chdb, cluster: config.clickhouse.cluster, journalDir: config.ingest.journalDir })(
      name,
      args,
    )
  })
  try {
    return await fn(run)
  } finally {
    await opened?.then(
      (clickhouse) => clickhouse.close(),
      () => undefined,
    )
  }
}
