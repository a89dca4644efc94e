import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { scrape } from '../helpers/metrics.ts'
import { freePort } from '../helpers/ports.ts'
import { ROOT, startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

// Prometheus's own checker (Debian's package prometheus). Where it may be missing these tests are
// skipped with a note; under CI they must run, so they fail.
const PROMTOOL = '/usr/bin/promtool'
const underCi = Boolean(process.env.CI) && process.env.CI !== 'false'
const skip = !fs.existsSync(PROMTOOL) && !underCi

type Context = { server: TestServer }
const test = suite<Context>('promtool', {} as Context)

/** Runs promtool; its exit code and everything it printed. */
function promtool(args: string[], input?: string): { code: number | null; output: string } {
  assert.ok(
    fs.existsSync(PROMTOOL),
    `${PROMTOOL} is required under CI (.ci/run installs it: apt-get install prometheus)`,
  )
  const result = spawnSync(PROMTOOL, args, { input, encoding: 'utf8', cwd: ROOT })
  return { code: result.status, output: `${result.stdout}${result.stderr}`.trim() }
}

test.before(async (context) => {
  if (skip) return
  context.server = await startTestServer({ metrics: { port: await freePort() } })
})

test.after(async ({ server }) => {
  await server?.close()
})

const tests: [string, (context: Context) => Promise<void> | void][] = [
  [
    'a real scrape passes promtool check metrics, with no problem reported',
    async ({ server }) => {
      server.define({ name: 'promtool-m', group1Key: 'device', aggregationThreshold: 1, accessApp: true })
      const token = await server.token()
      // Labelled series of every kind: an accepted measure, a refusal, a read, an auth refusal.
      await server.post(
        '/measure',
        { measureName: 'promtool-m', value: 1, startDate: '2022-01-01', group1: { device: 'd' } },
        token,
      )
      await server.post('/measure', { measureName: 'promtool-m' }, token)
      await server.post(
        '/aggregate',
        { measureName: 'promtool-m', startDate: '2022-01-01', endDate: '2022-02-01' },
        token,
      )
      await server.post('/aggregate', {})
      await server.settled()
      const { text, samples } = await scrape(server.metricsUrl!)
      assert.ok(samples.some((sample) => sample.name === 'dacc_measures_accepted_total'))
      assert.ok(samples.some((sample) => sample.name === 'process_resident_memory_bytes'))
      assert.equal(promtool(['check', 'metrics'], text), { code: 0, output: '' })
    },
  ],
  [
    'the alert rules and the Prometheus configuration pass promtool check; the rules pass their unit tests',
    () => {
      const rules = promtool(['check', 'rules', 'deploy/prometheus/alerts.yml'])
      assert.is(rules.code, 0, rules.output)
      assert.match(rules.output, 'SUCCESS: 7 rules found')
      const config = promtool(['check', 'config', 'deploy/prometheus/prometheus.yml'])
      assert.is(config.code, 0, config.output)
      const unit = promtool(['test', 'rules', 'deploy/prometheus/alerts.test.yml'])
      assert.is(unit.code, 0, unit.output)
    },
  ],
  [
    "the dashboard's queries are valid PromQL",
    () => {
      const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/dacc.json'), 'utf8')) as {
        panels: { targets: { expr: string }[] }[]
      }
      // Grafana's variables, as it would substitute them.
      const exprs = dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) =>
          target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', 'a:9464|b:9464'),
        ),
      )
      const file = path.join(tempDir(), 'dashboard-queries.yml')
      // As recording rules, which promtool parses; JSON is YAML.
      fs.writeFileSync(
        file,
        JSON.stringify({
          groups: [
            { name: 'dashboard', rules: exprs.map((expr, index) => ({ record: `dashboard:query_${index}`, expr })) },
          ],
        }),
      )
      const result = promtool(['check', 'rules', file])
      assert.is(result.code, 0, result.output)
      assert.match(result.output, `SUCCESS: ${exprs.length} rules found`)
    },
  ],
]

if (skip) {
  console.log(
    `NOTE: ${PROMTOOL} is absent, so the promtool checks are skipped (apt-get install -y prometheus runs them; with CI=true they fail instead).`,
  )
  for (const [name] of tests) test.skip(name)
} else {
  for (const [name, run] of tests) test(name, run)
}

test.run()
