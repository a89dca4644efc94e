import type { Middleware } from 'koa'
import { HttpError } from '../errors.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { Scope } from '../tokens/scopes.ts'
import type { Tokens } from '../tokens/tokens.ts'

const unauthorized = () =>
  new HttpError(401, 'Unauthorized Access', {
    headers: { 'WWW-Authenticate': 'Bearer realm="Authentication Required"' },
  })

/**
 * Bearer-token check: a missing, malformed, unknown, expired or revoked token gets the original's
 * 401. Refusals are counted by reason (`auth.refusals`).
 */
export function requireScope(tokens: Tokens, scope: Scope, { refusals }: Metrics['auth']): Middleware {
  return async (ctx, next) => {
    const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(ctx.get('Authorization'))
    const claims = match ? await tokens.verify(match[1]) : null
    if (!claims) {
      refusals.inc({ reason: match ? 'invalid_token' : 'no_token' })
      throw unauthorized()
    }
    if (!claims.scopes.includes(scope)) {
      refusals.inc({ reason: 'scope' })
      throw new HttpError(403, `This token does not have the ${scope} scope`)
    }
    ctx.state.auth = claims
    await next()
  }
}
