import { HttpError, unavailable } from '../errors.ts'

export type BatcherOptions<T> = {
  /** How many rows an item holds (an item is what one request queues). */
  rowsOf(item: T): number
  /** A batch is written as soon as it holds this many rows. */
  maxRows: number
  /** ...or when its first row has waited this long (milliseconds). */
  maxDelayMs: number
  /** Rows accepted but not yet written, at most; past that `add` refuses with a 503. */
  maxQueuedRows: number
  write(items: T[]): Promise<void>
}

type Batch<T> = { items: T[]; rows: number; done: Promise<void>; resolve(): void; reject(err: unknown): void }

function newBatch<T>(): Batch<T> {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  done.catch(() => {}) // a batch nobody awaits any more must not crash the process
  return { items: [], rows: 0, done, resolve, reject }
}

export class QueueFull extends HttpError {
  constructor() {
    super(503, 'The service is busy, retry later', { headers: { 'Retry-After': '1' } })
  }
}

/**
 * Group commit: items from concurrent requests gather into one batch, written with one INSERT.
 * One write runs at a time; while it runs, the next batch fills, so under load ClickHouse gets
 * few, large inserts, and at rest a row waits at most `maxDelayMs`. `add` resolves only once the
 * rows are written (a 201 means "in ClickHouse") and rejects for exactly the rows of a failed write.
 */
export class Batcher<T> {
  #options: BatcherOptions<T>
  #filling: Batch<T> = newBatch()
  #timer: NodeJS.Timeout | undefined
  #due = false
  #writing: Promise<void> | undefined
  #queued = 0
  #closed = false

  constructor(options: BatcherOptions<T>) {
    this.#options = options
  }

  get queuedRows(): number {
    return this.#queued
  }

  /** Queues an item (its rows stay together, in one batch) and resolves once it is written. */
  add(item: T): Promise<void> {
    if (this.#closed) return Promise.reject(unavailable('The service is shutting down'))
    const rows = this.#options.rowsOf(item)
    if (this.#queued + rows > this.#options.maxQueuedRows && this.#queued > 0) return Promise.reject(new QueueFull())
    const batch = this.#filling
    batch.items.push(item)
    batch.rows += rows
    this.#queued += rows
    if (batch.rows >= this.#options.maxRows) this.#due = true
    else if (!this.#timer && !this.#due) this.#timer = setTimeout(this.#onTimer, this.#options.maxDelayMs)
    this.#pump()
    return batch.done
  }

  /** Writes everything queued and refuses new rows. */
  async close(): Promise<void> {
    this.#closed = true
    this.#due = true
    this.#pump()
    while (this.#writing) await this.#writing
  }

  #onTimer = () => {
    this.#timer = undefined
    this.#due = true
    this.#pump()
  }

  #pump(): void {
    if (this.#writing || !this.#due || this.#filling.items.length === 0) return
    const batch = this.#filling
    this.#filling = newBatch()
    this.#due = false
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#writing = this.#write(batch)
  }

  async #write(batch: Batch<T>): Promise<void> {
    try {
      await this.#options.write(batch.items)
      batch.resolve()
    } catch (err) {
      batch.reject(err)
    } finally {
      this.#queued -= batch.rows
      this.#writing = undefined
      // Rows that arrived during the write: written now if their batch is full or overdue,
      // else their timer is still running.
      if (this.#filling.rows >= this.#options.maxRows || this.#closed) this.#due = true
      this.#pump()
    }
  }
}
