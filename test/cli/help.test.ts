import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli, tempDir } from '../helpers/server.ts'

const test = suite('dacc --help')

test('every operations command has --help, exit code 0', async () => {
  const env = { DACC_DATA_DIR: tempDir() }
  const commands = [
    ['purge'],
    ['purge', 'measure'],
    ['purge', 'all-measures'],
    ['definitions'],
    ['definitions', 'list'],
    ['definitions', 'delete'],
    ['wildcard'],
    ['wildcard', 'list'],
    ['compute-wildcard-aggregate'],
    ['sql'],
    ['migrate'],
    ['import-original'],
    ['compute-aggregation'],
    ['compute-all-aggregations'],
    ['create-filtered-aggregation-view'],
    ['update-filtered-aggregation-view'],
    ['demo'],
    ['quarantine'],
    ['quarantine', 'list'],
    ['quarantine', 'retry'],
    ['quarantine', 'discard'],
    ['drain'],
    ['export-public'],
  ]
  for (const command of commands) {
    const { code, stdout, stderr } = await runCli([...command, '--help'], env)
    assert.is(code, 0, command.join(' '))
    assert.is(stderr, '', command.join(' '))
    assert.match(stdout, /Usage:/, command.join(' '))
  }
})

test.run()
