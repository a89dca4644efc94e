import type { Definition } from '../definitions/schema.ts'

/**
 * The demo's definitions and measures (`dacc demo`): a few readable measures of a personal-cloud
 * app, one with groups whose small buckets fall under the threshold some days, one with quartiles,
 * one with two groups to roll up. The measures are a pure function of (measure, day), from a
 * generator seeded by both, over fixed months of 2025: every run, the README's answers and the
 * explorer's screenshot see the same data, and a month is one unit of "already there or not".
 */

/** The org of the demo's definitions and read token, and the `createdBy` of its measures. */
export const DEMO = 'demo'
export const FIRST_YEAR = 2025
export const MAX_MONTHS = 12

export type DemoMeasure = {
  measureName: string
  value: number
  startDate: string
  createdBy: string
  group1?: Record<string, string>
  group2?: Record<string, string>
}

type Day = { weekend: boolean; month: number; random: () => number }
type Model = { definition: Definition; day: (day: Day) => { value: number; groups?: string[] }[] }

/** A whole number from min to max, both included. */
const between = (random: () => number, min: number, max: number) => min + Math.floor(random() * (max - min + 1))
const times = <T>(count: number, make: () => T): T[] => Array.from({ length: count }, make)
const tenths = (value: number) => Math.round(value * 10) / 10

// Heating makes winter days cost more: a factor per month, January first.
const SEASON = [1.3, 1.2, 1.05, 0.9, 0.8, 0.75, 0.75, 0.75, 0.8, 0.95, 1.1, 1.25]

const MODELS: Model[] = [
  {
    // Desktops are used more on weekdays, phones at weekends; tablets are few, so their buckets
    // fall under the threshold on some days: the explorer's line breaks there.
    definition: {
      name: 'demo-connections',
      org: DEMO,
      description: 'Connections to the app per instance and day, by device',
      group1Key: 'device',
      aggregationPeriod: 'day',
      aggregationThreshold: 5,
      accessApp: true,
      accessPublic: false,
      withQuartiles: false,
    },
    day: ({ weekend, random }) => [
      ...times(weekend ? between(random, 15, 20) : between(random, 25, 35), () => ({
        value: weekend ? between(random, 3, 8) : between(random, 4, 9),
        groups: ['desktop'],
      })),
      ...times(weekend ? between(random, 20, 25) : between(random, 15, 20), () => ({
        value: weekend ? between(random, 2, 6) : between(random, 1, 5),
        groups: ['mobile'],
      })),
      ...times(between(random, 2, 7), () => ({ value: between(random, 0, 3), groups: ['tablet'] })),
    ],
  },
  {
    definition: {
      name: 'demo-electricity-kwh',
      org: DEMO,
      description: 'Electricity used by a home in a day, in kWh',
      aggregationPeriod: 'day',
      aggregationThreshold: 5,
      accessApp: true,
      accessPublic: true,
      withQuartiles: true,
    },
    // Skewed as real homes are: many small ones, a few large.
    day: ({ weekend, month, random }) =>
      times(between(random, 20, 30), () => ({
        value: tenths((4 + 18 * random() * random()) * SEASON[month] * (weekend ? 1.1 : 1)),
      })),
  },
  {
    // A connector's runs fetching data from a provider: how long they took, by outcome.
    definition: {
      name: 'demo-konnector-runs',
      org: DEMO,
      description: 'Duration of a connector run, in seconds, by provider and outcome',
      group1Key: 'slug',
      group2Key: 'status',
      aggregationPeriod: 'day',
      aggregationThreshold: 5,
      accessApp: true,
      accessPublic: false,
      withQuartiles: false,
    },
    day: ({ random }) =>
      (
        [
          ['enedis', 5, 10, 2],
          ['grdf', 3, 8, 3],
          ['egl', 2, 5, 1],
        ] as const
      ).flatMap(([slug, fewest, most, errors]) => [
        ...times(between(random, fewest, most), () => ({ value: between(random, 20, 80), groups: [slug, 'success'] })),
        ...times(between(random, 0, errors), () => ({ value: between(random, 3, 30), groups: [slug, 'error'] })),
      ]),
  },
]

export const DEMO_DEFINITIONS: Definition[] = MODELS.map((model) => model.definition)

/** The measure the explorer's link opens on. */
export const FIRST_MEASURE = DEMO_DEFINITIONS[0].name

/** `YYYY-MM-01` of the demo's month `index` (0: January of FIRST_YEAR; 12: the month after the last). */
export const monthStart = (index: number) => new Date(Date.UTC(FIRST_YEAR, index, 1)).toISOString().slice(0, 10)

/** The demo's measures of one definition in month `index`, always the same. */
export function monthMeasures(definition: Definition, index: number): DemoMeasure[] {
  const model = MODELS.find((candidate) => candidate.definition.name === definition.name)
  if (!model) throw new Error(`not a demo definition: ${definition.name}`)
  const keys = [definition.group1Key, definition.group2Key]
  const days = new Date(Date.UTC(FIRST_YEAR, index + 1, 0)).getUTCDate()
  const measures: DemoMeasure[] = []
  for (let dayOfMonth = 1; dayOfMonth <= days; dayOfMonth++) {
    const day = new Date(Date.UTC(FIRST_YEAR, index, dayOfMonth))
    const date = day.toISOString().slice(0, 10)
    const weekend = day.getUTCDay() === 0 || day.getUTCDay() === 6
    const random = seeded(`${definition.name}/${date}`)
    for (const { value, groups = [] } of model.day({ weekend, month: day.getUTCMonth(), random })) {
      const measure: DemoMeasure = { measureName: definition.name, value, startDate: date, createdBy: DEMO }
      groups.forEach((group, position) => {
        measure[position === 0 ? 'group1' : 'group2'] = { [keys[position]!]: group }
      })
      measures.push(measure)
    }
  }
  return measures
}

/**
 * How many of `measures` an /aggregate answer by month counts: the sum of the counts of their
 * (month, groups) buckets that reach the threshold (the others are not answered).
 */
export function countAnswered(measures: DemoMeasure[], threshold: number): number {
  const buckets = new Map<string, number>()
  for (const measure of measures) {
    const key = JSON.stringify([measure.startDate.slice(0, 7), measure.createdBy, measure.group1, measure.group2])
    buckets.set(key, (buckets.get(key) ?? 0) + 1)
  }
  return [...buckets.values()].filter((count) => count >= threshold).reduce((sum, count) => sum + count, 0)
}

/** A generator of numbers in [0, 1) seeded by a string (FNV-1a, then mulberry32): the same on every platform. */
function seeded(text: string): () => number {
  let state = 0x811c9dc5
  for (let i = 0; i < text.length; i++) state = Math.imul(state ^ text.charCodeAt(i), 0x01000193)
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
