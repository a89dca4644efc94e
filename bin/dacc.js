#!/usr/bin/env node
// Runs the build of src/ (dist/, made by `npm install` or `npm run build`): plain JavaScript, no
// transpiler at run time.
import fs from 'node:fs'

const cli = new URL('../dist/src/cli.js', import.meta.url)
if (!fs.existsSync(cli)) {
  console.error('Error: dacc is not built: run npm install (or npm run build) in its directory')
  process.exit(1)
}
const { main } = await import(cli)
await main(process.argv)
