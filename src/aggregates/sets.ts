import { GROUPS, groupKeys, type Definition, type Group } from '../definitions/schema.ts'
import { badRequest } from '../errors.ts'
import type { WildcardSet } from '../wildcards/wildcards.ts'
import type { GroupingSet } from './compute.ts'

/**
 * The rollups of one answer: the request's wildcard, over the whole requested range, and the
 * measure's registered sets, over their own ranges. A registered set is narrowed to the groups the
 * definition has (rolling up a group that is always empty changes nothing) and dropped when none
 * remain, lest it repeat the detailed rows; a set named twice is computed once, the request's first.
 * A definition with fixedPublication has its registered sets only, whatever the request, so every
 * answer is part of the same suppressed whole: answers with different rollups could be subtracted
 * from each other. Its request may name a registered set, which changes nothing.
 */
export function rollupsOf(definition: Definition, wildcard: Group[], registered: WildcardSet[]): GroupingSet[] {
  const keys = groupKeys(definition)
  const sets = new Map<string, GroupingSet>()
  if (wildcard.length > 0 && !definition.fixedPublication)
    sets.set(wildcard.join(','), { rolledUp: wildcard, fromDate: null, toDate: null })
  for (const set of registered) {
    const rolledUp = GROUPS.filter((group, index) => set.groups.includes(group) && keys[index] !== null)
    const key = rolledUp.join(',')
    if (rolledUp.length > 0 && !sets.has(key)) sets.set(key, { rolledUp, fromDate: set.fromDate, toDate: set.toDate })
  }
  if (definition.fixedPublication && wildcard.length > 0 && !sets.has(wildcard.join(','))) {
    const names = [...sets.keys()].join('; ') || 'none'
    throw badRequest(
      `wildcard ${wildcard.join(',')} is not registered for this measure, which is published with its registered wildcard sets only: ${names}`,
    )
  }
  return [...sets.values()]
}
