import { GROUPS } from '../definitions/schema.ts'
import { maskOf, type AggregateRow } from './compute.ts'

/**
 * Complementary suppression, for every answer with rollups (docs/privacy.md has the proof). Hides
 * more rows of an answer so that no hidden row's count, sum or other additive statistic can be
 * computed by adding and subtracting shown rows of that answer. Rows of different buckets or
 * createdBy never add up to one another, so each (bucket, createdBy) is handled on its own, and
 * only hidden rows' keys are needed: the rows under the threshold come without statistics.
 *
 * When the grouping sets of a bucket form a chain (each rolls up the groups of the one below and
 * more, as detail ⊂ {group2} ⊂ {group1, group2}), every row has one parent, the row of the next set
 * that sums it; then, to a fixed point:
 * - a shown row with exactly one hidden child also hides its smallest shown child (or itself,
 *   when it has no other): its hidden part is then at least two rows, known only as their sum;
 * - a hidden row whose children are all shown hides its smallest child: else it is their sum.
 * Otherwise (sets that cross, as {group1} and {group2}), the strict rule: a rolled-up row is shown
 * only when none of its detailed rows is hidden, so no shown row involves a hidden one.
 */
export function suppressComplements(rows: AggregateRow[]): AggregateRow[] {
  const hidden = new Set(rows.filter((row) => !row.shown))
  for (const partition of partitionsOf(rows)) {
    const masks = [...new Set(partition.map((row) => row.rolled_up))].sort((a, b) => bitCount(a) - bitCount(b))
    const chain = masks.every((mask, index) => index === 0 || (masks[index - 1] & mask) === masks[index - 1])
    if (chain) protectChain(partition, masks, hidden)
    else protectCrossing(partition, masks, hidden)
  }
  return rows.filter((row) => !hidden.has(row))
}

type Node = { row: AggregateRow; children: Node[] }

function protectChain(partition: AggregateRow[], masks: number[], hidden: Set<AggregateRow>): void {
  const levels = masks.map(() => new Map<string, Node>())
  for (const row of partition)
    levels[masks.indexOf(row.rolled_up)].set(keyOf(row, row.rolled_up), { row, children: [] })
  for (let level = 1; level < levels.length; level++) {
    for (const child of levels[level - 1].values())
      levels[level].get(keyOf(child.row, masks[level]))!.children.push(child)
  }
  const parents = levels.slice(1).flatMap((level) => [...level.values()])
  const isHidden = (node: Node) => hidden.has(node.row)
  // Each round hides at least one more row, so this ends.
  for (let changed = true; changed; ) {
    changed = false
    for (const parent of parents) {
      const hiddenChildren = parent.children.filter(isHidden).length
      if (isHidden(parent) ? hiddenChildren > 0 : hiddenChildren !== 1) continue
      hidden.add((smallestShown(parent.children, isHidden) ?? parent).row)
      changed = true
    }
  }
}

function protectCrossing(partition: AggregateRow[], masks: number[], hidden: Set<AggregateRow>): void {
  const rollups = masks.filter((mask) => mask !== 0)
  const touched = new Set<string>()
  for (const row of partition) {
    if (row.rolled_up === 0 && hidden.has(row)) for (const mask of rollups) touched.add(`${mask} ${keyOf(row, mask)}`)
  }
  for (const row of partition) if (touched.has(`${row.rolled_up} ${keyOf(row, row.rolled_up)}`)) hidden.add(row)
}

/** The shown node with the smallest count, the first one in the answer's order on a tie. */
function smallestShown(nodes: Node[], isHidden: (node: Node) => boolean): Node | undefined {
  return nodes
    .filter((node) => !isHidden(node))
    .reduce<Node | undefined>(
      (min, node) => (min && min.row.total_count! <= node.row.total_count! ? min : node),
      undefined,
    )
}

/** The row's group values with those of `mask` rolled up (null: a real value may read "*"). */
function keyOf(row: AggregateRow, mask: number): string {
  return JSON.stringify(GROUPS.map((group) => ((mask & maskOf([group])) !== 0 ? null : row[group])))
}

function partitionsOf(rows: AggregateRow[]): AggregateRow[][] {
  const partitions = new Map<string, AggregateRow[]>()
  for (const row of rows) {
    const key = `${row.bucket}\0${row.created_by}`
    if (!partitions.has(key)) partitions.set(key, [])
    partitions.get(key)!.push(row)
  }
  return [...partitions.values()]
}

const bitCount = (mask: number) => mask.toString(2).replaceAll('0', '').length
