import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { AggregateRow } from '../../src/aggregates/compute.ts'
import { suppressComplements } from '../../src/aggregates/suppression.ts'
import { createSolver } from '../privacy/solver.ts'
import { prng } from '../helpers/random.ts'

// Tables built here, as /aggregate's query returns them for an answer with rollups (rows under
// the threshold as keys only), then checked against the attacker's arithmetic (test/privacy/solver.ts).
const test = suite('suppressComplements')

type Cell = { bucket: string; createdBy: string; groups: string[]; count: number }
// grouping() masks: group1 is the most significant bit.
const G1 = 4
const G2 = 2
const G3 = 1

/** Every row of `masks` over `cells` (mask 0: the cells themselves), and the cells each one holds. */
function table(cells: Cell[], masks: number[], threshold: number) {
  const members = new Map<AggregateRow, number[]>()
  const rows: AggregateRow[] = []
  for (const mask of masks) {
    const byKey = new Map<string, AggregateRow>()
    cells.forEach((cell, index) => {
      const groups = cell.groups.map((value, i) => ((mask & (4 >> i)) !== 0 ? '' : value))
      const key = JSON.stringify([cell.bucket, cell.createdBy, groups])
      let row = byKey.get(key)
      if (!row) {
        row = {
          bucket: cell.bucket,
          created_by: cell.createdBy,
          group1: groups[0],
          group2: groups[1],
          group3: groups[2],
          rolled_up: mask,
          shown: 0,
          total_count: 0,
          not_zero_count: null,
          total_sum: null,
          min_value: null,
          max_value: null,
          avg: null,
          std: null,
        }
        byKey.set(key, row)
        rows.push(row)
        members.set(row, [])
      }
      row.total_count! += cell.count
      members.get(row)!.push(index)
    })
  }
  for (const row of rows) {
    row.shown = row.total_count! >= threshold ? 1 : 0
    if (!row.shown) row.total_count = null // hidden rows come without statistics
  }
  return { rows, members }
}

/** The hidden rows whose total the shown ones give away. */
function leaks(
  cells: Cell[],
  rows: AggregateRow[],
  shown: AggregateRow[],
  members: Map<AggregateRow, number[]>,
): AggregateRow[] {
  const solver = createSolver(cells.length)
  for (const row of shown) solver.publish(members.get(row)!)
  return rows.filter((row) => !shown.includes(row) && solver.computable(members.get(row)!))
}

test('one hidden child under a shown rollup: its smallest shown sibling is hidden too', () => {
  const cell = (slug: string, count: number): Cell => ({
    bucket: 'b',
    createdBy: 'app',
    groups: [slug, 'ok', ''],
    count,
  })
  const cells = [cell('victim', 1), cell('a', 9), cell('b', 4), cell('c', 6)]
  const { rows, members } = table(cells, [0, G1], 3)
  const shown = suppressComplements(rows)
  assert.equal(
    shown.map((row) => [row.group1, row.rolled_up]),
    [
      ['a', 0],
      ['c', 0],
      ['', G1],
    ],
  )
  assert.equal(leaks(cells, rows, shown, members), [])
  // Threshold alone: the rollup minus the three shown slugs is the victim.
  const thresholdOnly = rows.filter((row) => row.shown)
  assert.equal(
    leaks(cells, rows, thresholdOnly, members).map((row) => row.group1),
    ['victim'],
  )
})

test('a rollup with a single child, hidden by suppression, is hidden too', () => {
  const cells: Cell[] = [
    { bucket: 'b', createdBy: 'app', groups: ['a', 'ok', ''], count: 1 },
    { bucket: 'b', createdBy: 'app', groups: ['a', 'ko', ''], count: 5 },
    { bucket: 'b', createdBy: 'app', groups: ['z', 'ok', ''], count: 7 },
  ]
  // Chain detail ⊂ {group2} ⊂ {group1, group2}: (a, *) has one hidden child, so (a, ko) is hidden;
  // the total then holds hidden (a, *) and shown (z, *), whose only child is (z, ok)...
  const { rows, members } = table(cells, [0, G2, G1 | G2], 3)
  const shown = suppressComplements(rows)
  assert.equal(leaks(cells, rows, shown, members), [])
  assert.ok(shown.length > 0, 'some rows stay')
})

test('a table without hidden rows is left whole', () => {
  const cells: Cell[] = ['a', 'b'].flatMap((slug) =>
    ['ok', 'ko'].map((status) => ({ bucket: 'b', createdBy: 'app', groups: [slug, status, ''], count: 5 })),
  )
  for (const masks of [
    [0, G1],
    [0, G1, G2],
    [0, G2, G1 | G2],
  ]) {
    const { rows } = table(cells, masks, 3)
    assert.equal(suppressComplements(rows), rows)
  }
})

test('crossing rollups (2-D margins): a bridge between hidden rectangles leaks under the "two per line" rule, not here', () => {
  // Hidden: two 2×2 rectangles and the cell (r1, c3) joining them; every margin then holds 0 or at
  // least 2 hidden cells, yet (r1, c3) = margin r1 − shown − (r1c1 + r1c2), and r1c1 + r1c2 follows
  // from the margins of c1, c2 and r2.
  const small = new Set(['r1c1', 'r1c2', 'r2c1', 'r2c2', 'r3c3', 'r3c4', 'r4c3', 'r4c4', 'r1c3'])
  const cells: Cell[] = ['r1', 'r2', 'r3', 'r4'].flatMap((r) =>
    ['c1', 'c2', 'c3', 'c4'].map((c) => ({
      bucket: 'b',
      createdBy: 'app',
      groups: [r, c, ''],
      count: small.has(r + c) ? 1 : 10,
    })),
  )
  const { rows, members } = table(cells, [0, G1, G2], 3)
  const twoPerLine = rows.filter((row) => row.shown)
  assert.equal(
    leaks(cells, rows, twoPerLine, members).map((row) => row.group1 + row.group2),
    ['r1c3'],
  )
  const shown = suppressComplements(rows)
  assert.equal(leaks(cells, rows, shown, members), [])
  assert.ok(
    shown.every((row) => row.rolled_up === 0),
    'every margin holds a hidden cell',
  )
})

test('random tables, chains and crossing rollups: no hidden row can be computed from the shown ones', () => {
  const random = prng(6)
  const layouts = [
    [0, G1],
    [0, G2],
    [0, G1 | G2],
    [0, G2, G1 | G2],
    [0, G1, G2],
    [0, G1, G2, G1 | G2],
    [0, G3, G2 | G3, G1 | G2 | G3],
    [0, G1, G3, G1 | G3],
    [0, G1 | G2 | G3],
  ]
  let baselineLeaks = 0
  let suppressed = 0
  for (let round = 0; round < 300; round++) {
    const threshold = 2 + Math.floor(random() * 4)
    const values = [1 + Math.floor(random() * 4), 1 + Math.floor(random() * 4), 1 + Math.floor(random() * 3)]
    const cells: Cell[] = []
    for (const bucket of ['b1', 'b2']) {
      for (const createdBy of ['app1', 'app2']) {
        for (let a = 0; a < values[0]; a++) {
          for (let b = 0; b < values[1]; b++) {
            for (let c = 0; c < values[2]; c++) {
              if (random() < 0.3) continue
              const count =
                random() < 0.4 ? 1 + Math.floor(random() * (threshold - 1)) : threshold + Math.floor(random() * 10)
              cells.push({ bucket, createdBy, groups: [`a${a}`, `b${b}`, `c${c}`], count })
            }
          }
        }
      }
    }
    const masks = layouts[round % layouts.length]
    const { rows, members } = table(cells, masks, threshold)
    const shown = suppressComplements(rows)
    const about = `round ${round}, masks ${masks}, threshold ${threshold}`
    assert.ok(
      shown.every((row) => row.shown === 1),
      `${about}: a row under the threshold was shown`,
    )
    assert.equal(leaks(cells, rows, shown, members), [], about)
    baselineLeaks += leaks(
      cells,
      rows,
      rows.filter((row) => row.shown),
      members,
    ).length
    suppressed += rows.filter((row) => row.shown).length - shown.length
  }
  assert.ok(baselineLeaks > 100, `the threshold alone leaks in these tables (${baselineLeaks} rows)`)
  assert.ok(suppressed > 100, `${suppressed} rows suppressed`)
})

test('a large bucket is handled in milliseconds', () => {
  const cells: Cell[] = []
  for (let a = 0; a < 40; a++)
    for (let b = 0; b < 8; b++)
      for (let c = 0; c < 4; c++)
        cells.push({
          bucket: 'b',
          createdBy: 'app',
          groups: [`a${a}`, `b${b}`, `c${c}`],
          count: (a * 7 + b * 3 + c) % 9,
        })
  const { rows } = table(
    cells.filter((cell) => cell.count > 0),
    [0, G3, G2 | G3, G1 | G2 | G3],
    4,
  )
  const started = performance.now()
  suppressComplements(rows)
  assert.ok(performance.now() - started < 200, `${performance.now() - started} ms`)
})

test.run()
