/** One sample of a scrape: `name{labels} value`. */
export type Sample = { name: string; labels: Record<string, string>; value: number }

export type Scrape = {
  text: string
  samples: Sample[]
  /** The value of the sample of `name` whose labels include `labels` (summed when several do); 0 when none. */
  value(name: string, labels?: Record<string, string>): number
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g

/** GETs a metrics endpoint and parses its text format (samples only; HELP and TYPE lines skipped). */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`)
  const text = await response.text()
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line)
    if (!match || line.startsWith('#')) continue
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(LABEL)].map(([, key, value]) => [key, value]))
    samples.push({ name: match[1], labels, value: Number(match[3]) })
  }
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples
      .filter(
        (sample) =>
          sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted),
      )
      .reduce((total, sample) => total + sample.value, 0)
  return { text, samples, value }
}

/** How much each watched sample moved between two scrapes. */
export function moved(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
  return after.value(name, labels) - before.value(name, labels)
}
