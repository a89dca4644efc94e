import { groupKeys, type Definition } from '../definitions/definitions.ts'
import { GROUPS, type Group, type WildcardSet } from '../wildcards/wildcards.ts'
import type { GroupingSet } from './queries.ts'

/**
 * The rollups of one answer: the request's wildcard, over the whole requested range, and the
 * measure's registered sets, over their own ranges. A registered set is narrowed to the groups the
 * definition has (rolling up a group that is always empty changes nothing) and dropped when none
 * remain, lest it repeat the detailed rows; a set named twice is computed once, the request's first.
 */
export function rollupsOf(definition: Definition, wildcard: Group[], registered: WildcardSet[]): GroupingSet[] {
  const keys = groupKeys(definition)
  const sets = new Map<string, GroupingSet>()
  if (wildcard.length > 0) sets.set(wildcard.join(','), { rolledUp: wildcard, fromDate: null, toDate: null })
  for (const set of registered) {
    const rolledUp = GROUPS.filter((group, index) => set.groups.includes(group) && keys[index] !== null)
    const key = rolledUp.join(',')
    if (rolledUp.length > 0 && !sets.has(key)) sets.set(key, { rolledUp, fromDate: set.fromDate, toDate: set.toDate })
  }
  return [...sets.values()]
}
