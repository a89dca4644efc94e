import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { RequestMetrics } from './requests.ts'

/** What the gauges read at scrape time. */
type MetricSources = {
  /** Measures acknowledged and not yet loaded into ClickHouse. */
  backlog(): number
  /** The most the backlog may hold before writes get 503 (ingest.maxQueuedRows). */
  backlogLimit: number
  /** The read cache's accounted memory (bounded by aggregate.cacheMb). */
  cacheBytes(): number
}

export type Metrics = ReturnType<typeof createMetrics>

// Seconds. Requests: a cached /aggregate answers in under a millisecond, a POST /measure waits for
// its group's fsync (milliseconds), anything past 10 s is an outage. Loads: one INSERT of up to
// 65,000 rows, ~5 ms for a few rows on the embedded engine.
const REQUEST_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const APPEND_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
const LOAD_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const QUERY_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
// Rows of a segment: at most ingest.maxBatchRows (50,000 by default, 65,000 at most).
const SEGMENT_MEASURES = [1, 10, 100, 1000, 5000, 10000, 25000, 50000, 65000]

/**
 * Every metric of the service, in one registry, grouped by the part that counts it (each part is
 * handed its group). Labels take their values from fixed lists, route patterns and definition
 * names only: never a token, a measure's value, group values or createdBy, and never a client's
 * text (docs/observability.md lists each metric with its labels). Counting is always on, and
 * cheap; the registry is read only by the metrics listener (src/metrics/listener.ts).
 */
export function createMetrics({ backlog, backlogLimit, cacheBytes }: MetricSources) {
  const registry = new Registry()
  const registers = [registry]
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter({ name, help, labelNames, registers })
  const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: L[] = []) =>
    new Histogram({ name, help, buckets, labelNames, registers })

  const metrics = {
    registry,
    http: new RequestMetrics(registry, REQUEST_SECONDS),
    auth: {
      refusals: counter(
        'dacc_auth_refusals_total',
        'Requests refused by bearer auth: no_token (401, no or malformed Authorization), invalid_token (401, unknown, expired or revoked), scope (403)',
        ['reason'],
      ),
    },
    writes: {
      accepted: counter(
        'dacc_measures_accepted_total',
        'Measures acknowledged (durable in the journal), by measure name',
        ['measure'],
      ),
      deduplicated: counter(
        'dacc_measures_deduplicated_total',
        'Measures of requests answered as retries of an Idempotency-Key already acknowledged, not stored again',
      ),
      refused: counter(
        'dacc_measure_requests_refused_total',
        'POST /measure(s) requests of an authorized token refused (4xx, 503), by reason',
        ['reason'],
      ),
      appendSeconds: histogram(
        'dacc_journal_append_duration_seconds',
        'Time to write and flush one group of requests to the journal',
        APPEND_SECONDS,
      ),
      appendFailures: counter(
        'dacc_journal_append_failures_total',
        'Journal appends that failed (their requests got 503)',
      ),
      backlog: new Gauge({
        name: 'dacc_write_backlog_measures',
        help: 'Measures acknowledged and not yet loaded into ClickHouse',
        registers,
        collect() {
          this.set(backlog())
        },
      }),
      backlogLimit: new Gauge({
        name: 'dacc_write_backlog_limit_measures',
        help: 'Backlog past which writes get 503 (ingest.maxQueuedRows)',
        registers,
      }),
    },
    loads: {
      seconds: histogram(
        'dacc_load_duration_seconds',
        'Time of one INSERT of a journal segment into ClickHouse',
        LOAD_SECONDS,
      ),
      measures: histogram(
        'dacc_load_segment_measures',
        'Measures of each journal segment loaded into ClickHouse',
        SEGMENT_MEASURES,
      ),
      failures: counter(
        'dacc_load_failures_total',
        'Failed attempts to load a journal segment into ClickHouse, by class of error: transient (retried until it heals), permanent (set aside at once), unknown (set aside after ingest.loadAttempts)',
        ['class'],
      ),
      quarantined: new Gauge({
        name: 'dacc_quarantined_loads',
        help: 'Journal segments and import chunks set aside because ClickHouse refuses them (dacc quarantine list)',
        registers,
      }),
      quarantinedMeasures: new Gauge({
        name: 'dacc_quarantined_measures',
        help: 'Acknowledged measures in the loads set aside: durable, counted in answers, not in ClickHouse',
        registers,
      }),
    },
    reads: {
      answers: counter(
        'dacc_aggregate_answers_total',
        'Aggregate reads answered from the cache without a ClickHouse query (cache) or after one (engine)',
        ['source'],
      ),
      cacheBytes: new Gauge({
        name: 'dacc_aggregate_cache_bytes',
        help: 'Memory the read cache takes (bucket statistics, quartile values, contributor ids, measures not yet loaded), as accounted against aggregate.cacheMb',
        registers,
        collect() {
          this.set(cacheBytes())
        },
      }),
      querySeconds: histogram(
        'dacc_engine_query_duration_seconds',
        'Time of one ClickHouse query of the read cache (stats: bucket statistics, month_counts: freshness check)',
        QUERY_SECONDS,
        ['query'],
      ),
    },
    purges: {
      runs: counter(
        'dacc_purges_total',
        'Purges of raw measures this server ran (retention, or dacc purge through its socket), by outcome',
        ['outcome'],
      ),
      removed: counter('dacc_purged_measures_total', 'Raw measures removed by those purges'),
      retentionRuns: counter(
        'dacc_retention_runs_total',
        'Runs of the retention schedule (retention.rawDays), by outcome',
        ['outcome'],
      ),
    },
  }
  metrics.writes.backlogLimit.set(backlogLimit)
  // Series that exist from the start, at 0: rates and alerts see them before the first event.
  for (const reason of ['no_token', 'invalid_token', 'scope']) metrics.auth.refusals.inc({ reason }, 0)
  for (const source of ['cache', 'engine']) metrics.reads.answers.inc({ source }, 0)
  for (const query of ['stats', 'month_counts']) metrics.reads.querySeconds.zero({ query })
  for (const kind of ['transient', 'permanent', 'unknown']) metrics.loads.failures.inc({ class: kind }, 0)
  for (const outcome of ['ok', 'failed']) {
    metrics.purges.runs.inc({ outcome }, 0)
    metrics.purges.retentionRuns.inc({ outcome }, 0)
  }
  return metrics
}

/**
 * The process's own metrics (prom-client's defaults: CPU, resident memory, heap, event-loop lag,
 * GC, open files), sampled from now on. Less three gauges named like counters, which Prometheus's
 * lint refuses (`promtool check metrics`): each is the sum of the per-type gauge beside it
 * (nodejs_active_handles{type}...).
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry })
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name)
}
