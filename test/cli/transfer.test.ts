import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregateAnswers } from '../helpers/answers.ts'
import { runCli, startTestServer, tempDir } from '../helpers/server.ts'

const test = suite('dacc export / import')
const definition = {
  name: 'moving',
  group1Key: 'device',
  aggregationThreshold: 2,
  accessApp: true,
  withQuartiles: true,
}

test('export through a running server, import into a new store offline: the same answers', async () => {
  const exportDir = tempDir()
  const source = await startTestServer()
  let before: string[]
  try {
    source.define(definition)
    const token = await source.token()
    const measures = Array.from({ length: 120 }, (_, i) => ({
      measureName: 'moving',
      value: i % 17,
      startDate: `2022-01-${String(1 + (i % 20)).padStart(2, '0')}`,
      group1: { device: i % 3 ? 'desktop' : 'mobile' },
    }))
    assert.is((await source.post('/measures', measures, token)).status, 201)
    before = await aggregateAnswers(source, 'moving')
    const exported = await runCli(['export', exportDir], { DACC_DATA_DIR: source.config.dataDir })
    assert.is(exported.stderr, '')
    assert.match(exported.stdout, /^Exported to .+: \d+ aggregate rows, 120 raw measures\n$/)
    const refused = await runCli(['import', exportDir], { DACC_DATA_DIR: source.config.dataDir })
    assert.is(refused.code, 1)
    assert.is(refused.stderr, 'Error: stop dacc serve first: an import runs offline\n')
  } finally {
    await source.close()
  }

  const targetDir = tempDir()
  const imported = await runCli(['import', exportDir], { DACC_DATA_DIR: targetDir })
  assert.is(imported.stderr, '')
  assert.match(imported.stdout, /^Imported from .+: \d+ aggregate rows, 120 raw measures\n$/)
  const target = await startTestServer({ dataDir: targetDir })
  try {
    target.define(definition)
    assert.equal(await aggregateAnswers(target, 'moving'), before)
  } finally {
    await target.close()
  }
})

test('import of a directory that is not an export: one line', async () => {
  const dir = tempDir()
  fs.writeFileSync(path.join(dir, 'x'), '')
  const { code, stderr } = await runCli(['import', dir], { DACC_DATA_DIR: tempDir() })
  assert.is(code, 1)
  assert.match(stderr, /^Error: not an export directory \(no manifest.json\): .+\n$/)
})

test.run()
