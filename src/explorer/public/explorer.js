import { PALETTE, drawChart, svgNode } from './chart.js'

const $ = (id) => document.getElementById(id)
const GROUPS = ['group1', 'group2', 'group3']
const STATISTICS = ['avg', 'sum', 'count', 'countNotZero', 'min', 'max', 'std']
const QUARTILES = ['firstQuartile', 'median', 'thirdQuartile']

// The token lives in this variable only: never in a cookie, localStorage or sessionStorage.
let token = ''
let definitions = []
// The last answer, kept so that picking another statistic redraws without asking again.
let shown = null

function say(text, isError = false) {
  $('message').textContent = text
  $('message').className = isError ? 'error' : ''
}

function element(name, attributes = {}, text) {
  const node = document.createElement(name)
  Object.assign(node, attributes)
  if (text !== undefined) node.textContent = text
  return node
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' })
  const body = await response.json().catch(() => null)
  if (!response.ok) throw new Error(body?.error ?? `${response.status} ${response.statusText}`)
  return body
}

const selected = () => definitions.find((definition) => definition.name === $('measure').value)
const keysOf = (definition) => GROUPS.map((group) => definition[`${group}Key`]).map((key) => key ?? null)
const statisticsOf = (definition) => (definition.withQuartiles ? [...STATISTICS, ...QUARTILES] : STATISTICS)

async function loadMeasures() {
  token = $('token').value.trim()
  if (!token) return say('Paste a token with the aggregate:read scope first.', true)
  try {
    definitions = await api('/definitions')
  } catch (err) {
    return say(`Could not load the measures: ${err.message}`, true)
  }
  $('measure').replaceChildren(
    ...definitions.map((definition) => element('option', { value: definition.name }, definition.name)),
  )
  $('query').hidden = definitions.length === 0
  say(
    definitions.length
      ? `${definitions.length} measures may be read with this token.`
      : 'This token may read no measure.',
  )
  if (!definitions.length) return
  // A link naming a measure this token may read (dacc demo prints one) shows it at once.
  const linked = definitions.some((definition) => definition.name === link.get('measure'))
  if (linked) $('measure').value = link.get('measure')
  pickMeasure()
  if (linked) await show()
}

function pickMeasure() {
  const definition = selected()
  const keys = keysOf(definition)
  $('statistic').replaceChildren(...statisticsOf(definition).map((name) => element('option', { value: name }, name)))
  const boxes = keys.flatMap((key, index) => {
    if (key === null) return []
    const label = element('label')
    label.append(element('input', { type: 'checkbox', value: GROUPS[index] }), `${GROUPS[index]} (${key})`)
    return [label]
  })
  $('wildcards').replaceChildren(element('legend', {}, 'Roll up (wildcard)'), ...boxes)
  $('wildcards').hidden = boxes.length === 0
  const groups = keys.flatMap((key, index) => (key === null ? [] : [`${GROUPS[index]}: ${key}`]))
  $('about').textContent = [
    definition.description,
    groups.length ? `groups: ${groups.join(', ')}` : 'no groups',
    definition.aggregationPeriod ? `sent per ${definition.aggregationPeriod}` : '',
    `threshold: ${definition.aggregationThreshold} contributions`,
  ]
    .filter(Boolean)
    .join(' · ')
}

function queryOf(definition) {
  const params = new URLSearchParams({
    measureName: definition.name,
    startDate: $('start').value,
    endDate: $('end').value,
  })
  if ($('period').value) params.set('period', $('period').value)
  const wildcard = [...$('wildcards').querySelectorAll('input:checked')].map((box) => box.value)
  if (wildcard.length) params.set('wildcard', wildcard.join(','))
  return params
}

async function show() {
  const definition = selected()
  if (!$('start').value || !$('end').value) return say('Pick a start and an end date.', true)
  const params = queryOf(definition)
  say('Loading…')
  try {
    shown = { definition, params, rows: await api(`/aggregate?${params}`) }
  } catch (err) {
    $('result').hidden = true
    return say(err.message, true)
  }
  say(shown.rows.length ? `${shown.rows.length} rows.` : 'No rows: no bucket in this range reaches the threshold.')
  render()
}

/** One line per (createdBy, groups) combination, labelled with what distinguishes it. */
function seriesLabel(row, keys) {
  const parts = row.createdBy === undefined ? [] : [row.createdBy]
  keys.forEach((key, index) => {
    if (key !== null) parts.push(`${key}: ${row[GROUPS[index]]?.[key]}`)
  })
  return parts.join(' · ') || 'all'
}

function render() {
  const { definition, params, rows } = shown
  const statistic = $('statistic').value
  const keys = keysOf(definition)
  $('result').hidden = false
  const rolledUp =
    params.has('wildcard') ||
    rows.some((row) => GROUPS.some((group) => row[group] && Object.values(row[group])[0] === '*'))
  $('threshold').textContent =
    `Buckets with fewer than ${definition.aggregationThreshold} contributions are never returned, to keep contributors anonymous: ` +
    'they are simply absent from the chart and the table (a line breaks where a bucket is missing).' +
    (rolledUp ? ' With "*" rows, a few more are left out, so that none of those can be computed by subtraction.' : '')
  const dates = [...new Set(rows.map((row) => row.startDate))].sort()
  const byLabel = new Map()
  for (const row of rows) {
    const label = seriesLabel(row, keys)
    if (!byLabel.has(label))
      byLabel.set(label, { label, color: PALETTE[byLabel.size % PALETTE.length], values: dates.map(() => undefined) })
    byLabel.get(label).values[dates.indexOf(row.startDate)] = row[statistic]
  }
  const series = [...byLabel.values()]
  $('figure').hidden = rows.length === 0
  if (rows.length) drawChart($('chart'), { dates, series, statistic })
  $('legend').replaceChildren(
    ...series.map((line) => {
      const swatch = svgNode('svg', { width: 12, height: 12 })
      swatch.append(svgNode('rect', { width: 12, height: 12, fill: line.color }))
      const item = element('li')
      item.append(swatch, line.label)
      return item
    }),
  )
  renderTable(definition, rows, statistic)
  $('curl').textContent = `curl -H "Authorization: Bearer $TOKEN" '${location.origin}/aggregate?${params}'`
}

/** The rows exactly as /aggregate returned them, one column per field. */
function renderTable(definition, rows, statistic) {
  const keys = keysOf(definition)
  const columns = [
    { title: 'startDate', text: true, value: (row) => row.startDate },
    ...(rows.some((row) => row.createdBy !== undefined)
      ? [{ title: 'createdBy', text: true, value: (row) => row.createdBy ?? '' }]
      : []),
    ...keys.flatMap((key, index) =>
      key === null ? [] : [{ title: key, text: true, value: (row) => row[GROUPS[index]]?.[key] ?? '' }],
    ),
    ...statisticsOf(definition).map((name) => ({
      title: name,
      chosen: name === statistic,
      value: (row) => row[name] ?? '',
    })),
  ]
  const classOf = (column) => [column.text ? 'text' : '', column.chosen ? 'chosen' : ''].join(' ').trim()
  const head = element('tr')
  head.append(...columns.map((column) => element('th', { className: classOf(column) }, column.title)))
  $('rows').tHead.replaceChildren(head)
  $('rows').tBodies[0].replaceChildren(
    ...rows.map((row) => {
      const line = element('tr')
      line.append(...columns.map((column) => element('td', { className: classOf(column) }, String(column.value(row)))))
      return line
    }),
  )
}

async function copyCurl() {
  try {
    await navigator.clipboard.writeText($('curl').textContent)
    say('The curl command is copied; set TOKEN in your shell first.')
  } catch {
    // No clipboard access (a page not served over HTTPS or localhost): select it for Ctrl+C.
    getSelection().selectAllChildren($('curl'))
    say('Press Ctrl+C to copy the selected command.')
  }
}

// A link may fill the form: ?measure=...&start=YYYY-MM-DD&end=YYYY-MM-DD (never a token: links get
// shared and logged). Without it, the last 90 days.
const link = new URLSearchParams(location.search)
const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10)
const isDate = (text) => /^\d{4}-\d{2}-\d{2}$/.test(text ?? '')
$('start').value = isDate(link.get('start')) ? link.get('start') : day(-90)
$('end').value = isDate(link.get('end')) ? link.get('end') : day(1)
$('load').addEventListener('click', loadMeasures)
$('token').addEventListener('keydown', (event) => event.key === 'Enter' && loadMeasures())
$('measure').addEventListener('change', pickMeasure)
$('show').addEventListener('click', show)
$('statistic').addEventListener('change', () => shown && render())
$('copy').addEventListener('click', copyCurl)
