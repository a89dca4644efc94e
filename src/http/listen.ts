import type { Server } from 'node:http'
import { firstLine, UsageError } from '../errors.ts'

/**
 * Listens, or fails in one line naming the address (a port in use, an unknown host), so that the
 * caller can release what it holds and the process exit at once. `keys` names the settings.
 */
export function listen(server: Server, host: string, port: number, keys = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const reason =
        err.code === 'EADDRINUSE'
          ? 'the port is in use'
          : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
            ? 'unknown host'
            : firstLine(err)
      reject(new UsageError(`cannot listen on ${host}:${port}${keys}: ${reason}`))
    })
    server.listen(port, host, resolve)
  })
}

/** Stops listening, closes the idle keep-alive connections at once, and waits for the others to end. */
export async function close(server: Server): Promise<void> {
  const closed = new Promise((resolve) => server.close(resolve))
  server.closeIdleConnections()
  await closed
}
