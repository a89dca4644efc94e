import { pino, type Logger } from 'pino'

export type { Logger }

/** JSON lines on stdout. Tokens and passwords never reach it: nothing logs headers or config secrets. */
export function createLogger(level: string): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime })
}
