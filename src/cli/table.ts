/**
 * Rows as an aligned text table under a header and a rule: numbers right-aligned, null as NULL,
 * arrays and objects as JSON, line breaks escaped so that one row stays one line.
 */
export function formatTable(header: string[], rows: unknown[][]): string {
  const cells = rows.map((row) => row.map(cellText))
  const widths = header.map((name, column) => Math.max(name.length, ...cells.map((row) => row[column].length)))
  const line = (texts: string[], row?: unknown[]) =>
    texts
      .map((text, column) =>
        typeof row?.[column] === 'number' ? text.padStart(widths[column]) : text.padEnd(widths[column]),
      )
      .join('  ')
      .trimEnd()
  return [
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...cells.map((texts, index) => line(texts, rows[index])),
  ].join('\n')
}

function cellText(value: unknown): string {
  const text =
    value === null || value === undefined ? 'NULL' : typeof value === 'object' ? JSON.stringify(value) : String(value)
  return text.replace(/\r?\n/g, '\\n')
}
