#!/usr/bin/env node
// Runs every test file (test/**/*.test.ts, built into dist/test/ by `npm test`) in its own Node
// process (the embedded ClickHouse binds one data directory per process, and each file starts its
// own server on a fresh temp dir), two at a time, then prints uvu's totals summed up as a last
// plain line: `N passed, M failed`.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '../dist/test')
const filter = process.argv[2]
const files = fs
  .readdirSync(root, { recursive: true })
  .filter((file) => file.endsWith('.test.js') && (!filter || file.includes(filter)))
  .sort()
const PARALLEL = 2
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape sequences of terminal colours
const strip = (text) => text.replace(/\x1b\[[0-9;]*m/g, '')

function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', path.join(root, file)], {
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (out += chunk))
    child.on('close', (code) => {
      const text = strip(out)
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? 0)
      const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0)
      const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0)
      // A file that crashed before its summary, or exited non-zero, counts one failure at least
      // (a summary of skipped tests only is not a crash).
      const failed = Math.max(total - passed - skipped, code === 0 && total + skipped > 0 ? 0 : 1)
      resolve({ file, text, passed, failed, skipped })
    })
  })
}

const results = []
const queue = [...files]
await Promise.all(
  Array.from({ length: PARALLEL }, async () => {
    while (queue.length) {
      const result = await runFile(queue.shift())
      console.log(`\n=== ${result.file}\n${result.text.trim()}`)
      results.push(result)
    }
  }),
)
const sum = (key) => results.reduce((total, result) => total + result[key], 0)
const failedFiles = results.filter((result) => result.failed > 0).map((result) => result.file)
if (failedFiles.length) console.log(`\nFailed: ${failedFiles.join(', ')}`)
console.log(`\n${sum('passed')} passed, ${sum('failed')} failed${sum('skipped') ? `, ${sum('skipped')} skipped` : ''}`)
process.exitCode = sum('failed') > 0 || results.length === 0 ? 1 : 0
