// The reference point of every ratio in the benchmark: a bare Koa route that parses the same
// JSON body with the same body parser and answers 201. Prints its port on stdout.
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import { koaBody } from 'koa-body'

const app = new Koa()
app.use(koaBody())
app.use((ctx) => {
  if (ctx.method !== 'POST' || typeof ctx.request.body !== 'object') return
  ctx.status = 201
  ctx.body = { ok: true }
})
const server = app.listen(0, '127.0.0.1', () =>
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })),
)
process.on('SIGTERM', () => server.close(() => process.exit(0)))
