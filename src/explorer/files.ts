import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from '../root.ts'

/** Plain files, served as they are (the build does not copy them: they are read from the sources). */
export const PUBLIC_DIR = path.join(ROOT, 'src/explorer/public')

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

export type StaticFile = { type: string; body: Buffer; etag: string }

/**
 * The explorer's files, read once: a request can only name one of these, never a path, so no
 * traversal is possible. A file without a known content type stops the start rather than being
 * served as something a browser would have to guess.
 */
export function readPublicFiles(dir = PUBLIC_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>()
  for (const name of fs.readdirSync(dir).sort()) {
    const type = CONTENT_TYPES[path.extname(name)]
    if (!type) throw new Error(`explorer file with no known content type: ${name}`)
    const body = fs.readFileSync(path.join(dir, name))
    files.set(name, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` })
  }
  return files
}
