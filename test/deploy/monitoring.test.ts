import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parse } from 'yaml'
import { loadConfig } from '../../src/config.ts'
import { collectProcessMetrics, createMetrics } from '../../src/metrics/metrics.ts'
import { ROOT } from '../helpers/server.ts'

// No Docker engine here: what `docker compose --profile monitoring up` relies on is checked in
// the files themselves (the promtool checks are in test/metrics/promtool.test.ts).
const test = suite('the monitoring profile: compose file, Prometheus, Grafana')

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8')
const yaml = (file: string) => parse(read(file))

type Service = {
  image?: string
  profiles?: string[]
  environment?: Record<string, string>
  ports?: string[]
  volumes?: string[]
  depends_on?: unknown
}
const compose = yaml('docker-compose.yml') as { services: Record<string, Service>; volumes: Record<string, unknown> }
const dashboard = JSON.parse(read('deploy/grafana/dashboards/dacc.json')) as {
  uid: string
  templating: { list: { name: string; type: string; query: unknown }[] }
  panels: { title: string; datasource: { uid: string }; targets: { expr: string; datasource: { uid: string } }[] }[]
}
const alerts = yaml('deploy/prometheus/alerts.yml') as { groups: { rules: { alert: string; expr: string }[] }[] }
const rules = alerts.groups.flatMap((group) => group.rules)

/** The bind mounts of a service: container path → the repository file or folder mounted there. */
function mounts(service: Service): Map<string, string> {
  const binds = (service.volumes ?? []).filter((volume) => volume.startsWith('./')).map((volume) => volume.split(':'))
  for (const [source] of binds) assert.ok(fs.existsSync(path.join(ROOT, source)), `${source} is missing`)
  return new Map(binds.map(([source, target]) => [target, source]))
}

test('the app listens for metrics inside the compose network, on a port it does not publish', () => {
  const dacc = compose.services.dacc
  assert.is(dacc.profiles, undefined, 'the app runs with or without the profile')
  assert.is(dacc.environment?.DACC_METRICS_HOST, '0.0.0.0')
  assert.is(dacc.environment?.DACC_METRICS_PORT, undefined, 'the default port, which prometheus.yml scrapes')
  const port = String(loadConfig({ env: {} }).metrics.port)
  for (const service of Object.values(compose.services)) {
    for (const published of service.ports ?? [])
      assert.not.ok(published.split(':').includes(port), `${published} publishes the metrics port`)
  }
  const prometheusConfig = yaml('deploy/prometheus/prometheus.yml') as {
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[]
  }
  const job = prometheusConfig.scrape_configs.find((config) => config.job_name === 'dacc')!
  assert.equal(job.static_configs[0].targets, [`dacc:${port}`])
  // The alert rules look for that job.
  assert.ok(rules.some((rule) => rule.expr.includes('up{job="dacc"}')))
})

test('Prometheus and Grafana are in the monitoring profile, wired to each other and to the files of deploy/', () => {
  const { prometheus, grafana } = compose.services
  for (const service of [prometheus, grafana]) {
    assert.equal(service.profiles, ['monitoring'])
    assert.match(service.image!, /:v?\d+\.\d+\.\d+$/, 'a pinned image')
    for (const published of service.ports ?? [])
      assert.ok(published.startsWith('127.0.0.1:'), `${published} is reachable from other machines`)
  }
  // Prometheus: its configuration where the image reads it, the rules beside it (rule_files is relative).
  const prometheusMounts = mounts(prometheus)
  assert.is(prometheusMounts.get('/etc/prometheus/prometheus.yml'), './deploy/prometheus/prometheus.yml')
  const { rule_files: ruleFiles } = yaml('deploy/prometheus/prometheus.yml') as { rule_files: string[] }
  for (const file of ruleFiles)
    assert.is(prometheusMounts.get(`/etc/prometheus/${file}`), `./deploy/prometheus/${file}`)
  // Grafana: the provisioning folders where it looks, the dashboards where the provider points.
  const grafanaMounts = mounts(grafana)
  assert.is(grafanaMounts.get('/etc/grafana/provisioning/datasources'), './deploy/grafana/provisioning/datasources')
  assert.is(grafanaMounts.get('/etc/grafana/provisioning/dashboards'), './deploy/grafana/provisioning/dashboards')
  const provider = (
    yaml('deploy/grafana/provisioning/dashboards/dacc.yml') as {
      providers: { type: string; options: { path: string } }[]
    }
  ).providers[0]
  assert.is(provider.type, 'file')
  assert.is(grafanaMounts.get(provider.options.path), './deploy/grafana/dashboards')
  assert.is(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, `${provider.options.path}/dacc.json`)
  const [datasource] = (
    yaml('deploy/grafana/provisioning/datasources/prometheus.yml') as {
      datasources: { type: string; url: string; isDefault: boolean }[]
    }
  ).datasources
  assert.equal([datasource.type, datasource.url, datasource.isDefault], ['prometheus', 'http://prometheus:9090', true])
  for (const volume of [...(prometheus.volumes ?? []), ...(grafana.volumes ?? [])].filter(
    (volume) => !volume.startsWith('./'),
  )) {
    assert.ok(volume.split(':')[0] in compose.volumes, `volume ${volume} is declared`)
  }
})

test("the dashboard has the issue's panels, each on the data source variable", () => {
  const titles = dashboard.panels.map((panel) => panel.title)
  for (const wanted of [
    'Ingest rate',
    'Write latency p50 / p99',
    '503s',
    'Backlog',
    'Write time: journal append and ClickHouse load',
    'Aggregate latency p50 / p99',
    'Aggregate answers without an engine query',
    'Resident memory (RSS)',
  ]) {
    assert.ok(titles.includes(wanted), wanted)
  }
  assert.ok(
    dashboard.templating.list.some(
      (variable) => variable.name === 'datasource' && variable.type === 'datasource' && variable.query === 'prometheus',
    ),
  )
  // Grafana's own variable syntax, in plain strings.
  const datasource = ['$', '{datasource}'].join('')
  for (const panel of dashboard.panels) {
    assert.is(panel.datasource.uid, datasource, panel.title)
    for (const target of panel.targets) assert.is(target.datasource.uid, datasource, panel.title)
  }
})

test('every metric the dashboard and the alerts use is one the service exposes', async () => {
  const metrics = createMetrics({ backlog: () => 0, backlogLimit: 1, cacheBytes: () => 0 })
  collectProcessMetrics(metrics.registry)
  const exposed = new Set<string>(['up']) // Prometheus's own, per target
  for (const [, name, type] of (await metrics.registry.metrics()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exposed.add(name)
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(name + suffix)
  }
  const exprs = [
    ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr)),
    ...rules.map((rule) => rule.expr),
  ]
  const used = new Set(exprs.flatMap((expr) => expr.match(/\b(?:dacc|process|nodejs)_\w+|\bup(?=\{)/g) ?? []))
  assert.equal([...used].filter((name) => !name.startsWith('dacc_')).sort(), [
    'nodejs_eventloop_lag_p99_seconds',
    'process_resident_memory_bytes',
    'up',
  ])
  for (const name of used) assert.ok(exposed.has(name), `${name} is not exposed`)
})

test.run()
