import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The package's root directory, where package.json is: the same whether this runs from the
 * TypeScript sources or from their build in dist/, which sits one level deeper.
 */
export const ROOT = (() => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) throw new Error('package.json not found above the sources')
  }
})()

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string }

/** The package's version and license, from package.json. */
export const { version: VERSION, license: LICENSE } = pkg
