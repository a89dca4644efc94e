const MAX_ENTRIES = 1000

/**
 * Shares the answer to identical questions for `maxAgeMs`: requests asked while one is being
 * computed wait for it, later ones reuse it until it is `maxAgeMs` old. The key holds everything
 * the answer depends on (the definition's threshold and flags, the wildcard sets, the dates), so a
 * definition changed by the CLI is a different key at once. 0 disables it. Failures are not kept.
 */
export function createAnswerCache<T>(maxAgeMs: number) {
  const entries = new Map<string, { at: number; value: Promise<T> }>()
  return (key: string, compute: () => Promise<T>): Promise<T> => {
    if (maxAgeMs === 0) return compute()
    const now = performance.now()
    const hit = entries.get(key)
    if (hit && now - hit.at <= maxAgeMs) return hit.value
    // Oldest first: Map keeps insertion order, and a refreshed key is re-inserted at the end.
    entries.delete(key)
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!)
    const value = compute()
    entries.set(key, { at: now, value })
    value.catch(() => entries.get(key)?.value === value && entries.delete(key))
    return value
  }
}
