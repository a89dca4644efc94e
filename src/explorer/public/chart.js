// A line chart drawn as SVG elements (no library, no inline style: the page's CSP allows neither).

const SVG = 'http://www.w3.org/2000/svg'
const WIDTH = 800
const HEIGHT = 320
const MARGIN = { left: 64, right: 40, top: 16, bottom: 40 }

export const PALETTE = ['#2a5bd7', '#d7572a', '#2a9d5b', '#9c2ad7', '#c29100', '#1aa3c4', '#d72a7a', '#5f6b7a']

export function svgNode(name, attributes = {}, text) {
  const element = document.createElementNS(SVG, name)
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value))
  if (text !== undefined) element.textContent = text
  return element
}

/** Round ticks covering [min, max], in steps of 1, 2 or 5 times a power of ten. */
function ticks(min, max, count = 5) {
  if (min === max) [min, max] = [min - 1, max + 1]
  const rough = (max - min) / count
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= rough)
  const values = []
  for (let value = Math.floor(min / step) * step; value < max + step; value += step) {
    values.push(Number(value.toPrecision(12)))
    if (value >= max) break
  }
  return values
}

const dateLabel = (date) => (date.endsWith('T00:00:00') ? date.slice(0, 10) : date.slice(0, 16).replace('T', ' '))

/**
 * Draws `series` ({label, color, values}: one value or undefined per date) against `dates`
 * (sorted `YYYY-MM-DDThh:mm:ss` labels), x proportional to time. A line breaks where a series
 * has no row, so a bucket hidden by the threshold never looks like an interpolated value.
 */
export function drawChart(svg, { dates, series, statistic }) {
  svg.replaceChildren()
  const times = dates.map((date) => Date.parse(`${date}Z`))
  const values = series.flatMap((line) => line.values.filter((value) => value !== undefined))
  const yTicks = ticks(Math.min(0, ...values), Math.max(0, ...values))
  const [yMin, yMax] = [yTicks[0], yTicks.at(-1)]
  const [tMin, tMax] = [times[0], times.at(-1)]
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom
  const x = (index) =>
    MARGIN.left + (tMax === tMin ? plotWidth / 2 : ((times[index] - tMin) / (tMax - tMin)) * plotWidth)
  const y = (value) => MARGIN.top + plotHeight - ((value - yMin) / (yMax - yMin)) * plotHeight

  for (const tick of yTicks) {
    svg.append(svgNode('line', { class: 'grid', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick) }))
    svg.append(svgNode('text', { x: MARGIN.left - 6, y: y(tick) + 4, 'text-anchor': 'end' }, String(tick)))
  }
  const labelCount = Math.min(dates.length, 6)
  const labelled = new Set(
    Array.from({ length: labelCount }, (_, i) => Math.round((i * (dates.length - 1)) / Math.max(labelCount - 1, 1))),
  )
  for (const index of labelled) {
    svg.append(
      svgNode(
        'text',
        { x: x(index), y: HEIGHT - MARGIN.bottom + 18, 'text-anchor': 'middle' },
        dateLabel(dates[index]),
      ),
    )
  }
  svg.append(svgNode('line', { class: 'axis', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(yMin), y2: y(yMin) }))
  svg.append(svgNode('line', { class: 'axis', x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: y(yMin) }))
  svg.append(svgNode('text', { x: MARGIN.left, y: MARGIN.top - 4 }, statistic))

  for (const line of series) {
    const group = svgNode('g', { 'data-series': line.label })
    let path = ''
    line.values.forEach((value, index) => {
      if (value === undefined) return
      path += `${line.values[index - 1] === undefined ? 'M' : 'L'}${x(index).toFixed(1)},${y(value).toFixed(1)}`
    })
    group.append(svgNode('path', { d: path, fill: 'none', stroke: line.color, 'stroke-width': 2 }))
    line.values.forEach((value, index) => {
      if (value === undefined) return
      const point = svgNode('circle', {
        cx: x(index),
        cy: y(value),
        r: 3.5,
        fill: line.color,
        'data-date': dates[index],
        'data-value': value,
      })
      point.append(svgNode('title', {}, `${line.label} · ${dateLabel(dates[index])}: ${statistic} ${value}`))
      group.append(point)
    })
    svg.append(group)
  }
}
