#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx): no build step, `tsc` only type-checks.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli.ts')
await main(process.argv)
