import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { close, listen } from '../http/listen.ts'
import type { Logger } from '../logger.ts'
import { collectProcessMetrics } from './metrics.ts'

type MetricsListener = {
  /** http://host:port/metrics */
  url: string
  close(): Promise<void>
}

/**
 * GET /metrics in the Prometheus text format, on a listener of its own (metrics.host, metrics.port),
 * never on the API's port: what it tells (traffic, backlog, measure names) is for the operators'
 * network only. It also starts sampling the process's own metrics, which only a scrape reads.
 */
export async function serveMetrics(
  registry: Registry,
  { host, port }: { host: string; port: number },
  logger: Logger,
): Promise<MetricsListener> {
  collectProcessMetrics(registry)
  const server = http.createServer((request, response) => {
    const path = request.url?.split('?')[0]
    if (path !== '/metrics') return answer(response, 404, 'Not found: the metrics are at /metrics\n')
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return answer(response, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' })
    registry.metrics().then(
      (text) => answer(response, 200, text, { 'Content-Type': registry.contentType }),
      (err: unknown) => {
        logger.error({ err }, 'collecting metrics failed')
        answer(response, 500, 'Internal Server Error\n')
      },
    )
  })
  // Its port is not the one users think of first: the message names the keys.
  await listen(server, host, port, ' for metrics (metrics.host, metrics.port; port 0 turns them off)')
  const address = server.address() as AddressInfo
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/metrics`,
    // Prometheus keeps its connection open between scrapes: closed at once.
    close: () => close(server),
  }
}

function answer(
  response: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers })
  response.end(body)
}
