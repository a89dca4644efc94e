// Examples shown in the document; test/openapi validates every one against its schema.

export const measureExamples = {
  withGroups: {
    measureName: 'konnector-event-daily',
    value: 1,
    startDate: '2022-01-01',
    createdBy: 'ecolyo',
    group1: { slug: 'enedis' },
    group2: { event_type: 'connection' },
    group3: { status: 'success' },
  },
  noGroups: { measureName: 'profile-count', value: 2, startDate: '2022-01-01T08:30:00' },
  numericString: { measureName: 'profile-count', value: '42', startDate: '2022-01-02' },
}

export const ndjsonExample =
  '{"measureName":"profile-count","value":1,"startDate":"2022-01-01"}\n{"measureName":"profile-count","value":2,"startDate":"2022-01-01"}\n'

export const aggregateParamsExamples = {
  original: { measureName: 'connection-count-daily', startDate: '2022-01-01', endDate: '2022-02-01' },
  weeklyForOneApp: {
    measureName: 'connection-count-daily',
    startDate: '2022-01-01',
    endDate: '2022-02-01',
    createdBy: 'ecolyo',
    period: 'week',
  },
  monthlyWithRollup: {
    measureName: 'connection-count-daily',
    startDate: '2022-01-01',
    endDate: '2023-01-01',
    period: 'month',
    wildcard: ['group1'],
  },
}

/** One example per query parameter of GET /aggregate (query strings hold strings only). */
export const aggregateQueryExamples: Record<string, string> = {
  measureName: 'connection-count-daily',
  startDate: '2022-01-01',
  endDate: '2022-02-01',
  createdBy: 'ecolyo',
  period: 'month',
  wildcard: 'group1',
}

export const aggregateRowsExample = [
  {
    avg: 54.39,
    count: 173,
    countNotZero: 172,
    createdBy: 'ecolyo',
    group1: { device: 'desktop' },
    max: 100,
    measureName: 'connection-count-daily',
    min: 0,
    startDate: '2022-01-01T00:00:00',
    std: 28.94,
    sum: 9410,
  },
  {
    avg: 41.2,
    count: 312,
    countNotZero: 309,
    createdBy: 'ecolyo',
    group1: { device: '*' },
    max: 100,
    measureName: 'connection-count-daily',
    min: 0,
    startDate: '2022-01-01T00:00:00',
    std: 30.05,
    sum: 12854.4,
  },
]

export const definitionsExample = [
  {
    name: 'connection-count-daily',
    description: 'Daily connections, by device',
    group1Key: 'device',
    aggregationPeriod: 'day',
    aggregationThreshold: 5,
    withQuartiles: false,
  },
  {
    name: 'konnector-event-daily',
    group1Key: 'slug',
    group2Key: 'event_type',
    aggregationPeriod: 'day',
    aggregationThreshold: 5,
    withQuartiles: false,
    thresholdOn: 'contributors',
    hideExtremes: true,
    noise: { epsilon: 0.5, valueMin: 0, valueMax: 1000 },
    fixedPublication: true,
  },
]

export const statusExample = {
  db: { status: 'ok', version: '26.7.2.1' },
  sqlite: { status: 'ok' },
  writes: { status: 'ok', backlog: 0 },
  global_status: 'ok',
}
