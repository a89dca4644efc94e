// The registry behind /aggregate's registered rollups (src/wildcards/wildcards.ts).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../../src/errors.ts'
import { openStore, type Store } from '../../src/store/store.ts'
import { createWildcards, type Wildcards } from '../../src/wildcards/wildcards.ts'
import { tempDir } from '../helpers/server.ts'

type Context = { dir: string; store: Store; wildcards: Wildcards }
const test = suite<Context>('wildcard sets', {} as Context)

test.before.each((context) => {
  context.dir = tempDir()
  context.store = openStore(context.dir)
  context.wildcards = createWildcards(context.store)
})
test.after.each(({ store }) => store.close())

test('register keeps one canonical set per measure and groups; re-registering changes its range', ({ wildcards }) => {
  const first = wildcards.register('m', ['group3', 'group1'], {
    fromDate: '2022-01-01',
    toDate: '2022-02-01T12:00:00+02:00',
  })
  assert.equal(
    { ...first, createdAt: undefined },
    {
      measureName: 'm',
      groups: ['group1', 'group3'],
      fromDate: '2022-01-01 00:00:00',
      toDate: '2022-02-01 12:00:00',
      createdAt: undefined,
    },
  )
  const again = wildcards.register('m', ['group1,group3'])
  assert.equal(again, { ...first, fromDate: null, toDate: null })
  wildcards.register('other', ['group2'])
  assert.equal(
    wildcards.list().map((set) => [set.measureName, set.groups.join()]),
    [
      ['m', 'group1,group3'],
      ['other', 'group2'],
    ],
  )
  assert.equal(wildcards.list('m'), [again])
  assert.equal(wildcards.forMeasure('m'), [again])
  assert.equal(wildcards.forMeasure('none'), [])
})

test('remove says whether a set was there', ({ wildcards }) => {
  wildcards.register('m', ['group2'])
  assert.is(wildcards.remove('m', ['group2']), true)
  assert.is(wildcards.remove('m', ['group2']), false)
  assert.equal(wildcards.forMeasure('m'), [])
})

test('bad groups and dates are refused with a one-line reason', ({ wildcards }) => {
  const refused = (register: () => unknown, message: string) => {
    try {
      register()
      assert.unreachable('should have thrown')
    } catch (err) {
      assert.instance(err, UsageError)
      assert.is((err as Error).message, message)
    }
  }
  refused(
    () => wildcards.register('m', ['group4']),
    'wildcard groups must be among group1, group2, group3, got: group4',
  )
  refused(() => wildcards.register('m', []), 'wildcard groups must be among group1, group2, group3, got: (none)')
  refused(
    () => wildcards.register('m', ['group1'], { fromDate: '2022-02-30' }),
    'the from date must be YYYY-MM-DD or an ISO-8601 date-time, got: 2022-02-30',
  )
  refused(
    () => wildcards.register('m', ['group1'], { fromDate: '2022-02-01', toDate: '2022-02-01' }),
    'the from date must be before the to date, got: 2022-02-01 00:00:00 and 2022-02-01 00:00:00',
  )
  assert.equal(wildcards.list(), [])
})

test('a change made through another connection (the CLI) shows at once', async ({ dir, wildcards }) => {
  assert.equal(wildcards.forMeasure('m'), [])
  const cli = openStore(dir)
  createWildcards(cli).register('m', ['group1'])
  cli.close()
  // The store reads its version once per turn of the event loop: the server's next request comes in a later one.
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(
    wildcards.forMeasure('m').map((set) => set.groups),
    [['group1']],
  )
})

test.run()
