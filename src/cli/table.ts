/**
 * Rows as an aligned text table under a header and a rule: numbers right-aligned, null as NULL,
 * arrays and objects as JSON, line breaks escaped so that one row stays one line.
 */
export function formatTable(header: string[], rows: unknown[][]): string {
  return new Table(header).lines(rows).join('\n')
}

/**
 * A table printed as its rows come, a batch at a time (`dacc sql` streams results of any size):
 * each batch is aligned on the widest cells seen so far, so a column may widen from one batch to
 * the next; the header and its rule come before the first batch.
 */
export class Table {
  readonly #header: string[]
  #widths: number[]
  #started = false

  constructor(header: string[]) {
    this.#header = header
    this.#widths = header.map((name) => name.length)
  }

  /** The lines of the next rows, after the header and the rule the first time. */
  lines(rows: unknown[][]): string[] {
    const cells = rows.map((row) => row.map(cellText))
    this.#widths = this.#widths.map((width, column) => Math.max(width, ...cells.map((row) => row[column].length)))
    const line = (texts: string[], row?: unknown[]) =>
      texts
        .map((text, column) =>
          typeof row?.[column] === 'number' ? text.padStart(this.#widths[column]) : text.padEnd(this.#widths[column]),
        )
        .join('  ')
        .trimEnd()
    const lines = cells.map((texts, index) => line(texts, rows[index]))
    if (this.#started) return lines
    this.#started = true
    return [line(this.#header), line(this.#widths.map((width) => '-'.repeat(width))), ...lines]
  }
}

function cellText(value: unknown): string {
  const text =
    value === null || value === undefined ? 'NULL' : typeof value === 'object' ? JSON.stringify(value) : String(value)
  return text.replace(/\r?\n/g, '\\n')
}
