/** An item lent by a Pool, until its release. */
export type Lent<T> = { item: T; release(): void }

type Waiter<T> = { resolve(lent: Lent<T> | undefined): void; timer: NodeJS.Timeout }

/**
 * A fixed set of items (engine sessions) lent one borrower at a time: the concurrency bound of
 * the SQL interface. A borrower waits for a free one up to `waitMs`, in order of arrival, then
 * gets undefined (the caller answers that too many queries run).
 */
export class Pool<T> {
  readonly size: number
  readonly #free: T[]
  readonly #waiting: Waiter<T>[] = []
  readonly #waitMs: number
  #closed = false
  #idle: (() => void) | undefined

  constructor(items: T[], waitMs = 10_000) {
    this.#free = [...items]
    this.size = items.length
    this.#waitMs = waitMs
  }

  acquire(): Promise<Lent<T> | undefined> {
    if (this.#closed) return Promise.resolve(undefined)
    const item = this.#free.pop()
    if (item !== undefined) return Promise.resolve(this.#lend(item))
    return new Promise((resolve) => {
      const waiter: Waiter<T> = {
        resolve,
        timer: setTimeout(() => {
          this.#waiting.splice(this.#waiting.indexOf(waiter), 1)
          resolve(undefined)
        }, this.#waitMs),
      }
      this.#waiting.push(waiter)
    })
  }

  /** Lends nothing more; resolves once every item lent is back. */
  drain(): Promise<void> {
    this.#closed = true
    for (const waiter of this.#waiting.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.resolve(undefined)
    }
    if (this.#free.length === this.size) return Promise.resolve()
    return new Promise((resolve) => {
      this.#idle = resolve
    })
  }

  #lend(item: T): Lent<T> {
    let released = false
    return {
      item,
      release: () => {
        if (released) return
        released = true
        const waiter = this.#closed ? undefined : this.#waiting.shift()
        if (waiter) {
          clearTimeout(waiter.timer)
          waiter.resolve(this.#lend(item))
          return
        }
        this.#free.push(item)
        if (this.#free.length === this.size) this.#idle?.()
      },
    }
  }
}
