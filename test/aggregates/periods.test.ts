import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { wholePeriods } from '../../src/aggregates/periods.ts'

const test = suite('wholePeriods')

test('a range widens to the whole periods it overlaps; one already whole is kept', () => {
  const cases: [string, string, Parameters<typeof wholePeriods>[2], string, string][] = [
    ['2022-01-04 00:00:00', '2022-01-05 12:00:00', 'day', '2022-01-04 00:00:00', '2022-01-06 00:00:00'],
    ['2022-01-05 00:00:00', '2022-01-06 00:00:00', 'week', '2022-01-03 00:00:00', '2022-01-10 00:00:00'], // Wednesday to Thursday
    ['2022-01-03 00:00:00', '2022-01-10 00:00:00', 'week', '2022-01-03 00:00:00', '2022-01-10 00:00:00'],
    ['2021-12-31 23:59:59', '2022-01-01 00:00:01', 'month', '2021-12-01 00:00:00', '2022-02-01 00:00:00'],
    ['2022-03-15 00:00:00', '2022-12-31 00:00:00', 'year', '2022-01-01 00:00:00', '2023-01-01 00:00:00'],
    ['2105-06-01 00:00:00', '2105-12-31 00:00:00', 'year', '2105-01-01 00:00:00', '2106-01-01 00:00:00'],
  ]
  for (const [start, end, period, startDate, endDate] of cases) {
    assert.equal(wholePeriods(start, end, period), { startDate, endDate }, `${start} ${end} ${period}`)
  }
})

test('stored buckets and empty ranges are left as asked', () => {
  assert.equal(wholePeriods('2022-01-04 10:00:00', '2022-01-05 12:00:00', null), {
    startDate: '2022-01-04 10:00:00',
    endDate: '2022-01-05 12:00:00',
  })
  assert.equal(wholePeriods('2022-01-05 00:00:00', '2022-01-04 00:00:00', 'week'), {
    startDate: '2022-01-05 00:00:00',
    endDate: '2022-01-04 00:00:00',
  })
})

test.run()
