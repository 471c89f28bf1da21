/**
 * A small hand-written SVG line chart for the results page: a few series over shared x values,
 * axes with round ticks, labels and a legend. Enough for the job-time vs quantity curve; no
 * charting library for one picture.
 */

/** One line of the chart. */
export interface Series {
  label: string;
  /** A CSS colour. */
  color: string;
  /** y for each of the chart's x values, in order. */
  values: number[];
  /** Draw dashed (e.g. the floor). */
  dashed?: boolean;
}

/** What the chart shows. */
export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  xs: number[];
  series: Series[];
}

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { top: 48, right: 24, bottom: 56, left: 72 };

/** A tick step of 1, 2 or 5 × 10^n giving about `count` ticks up to `max`. */
const niceStep = (max: number, count = 5): number => {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
};

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const format = (value: number) => value.toLocaleString('en', { maximumFractionDigits: 2 });

/** The chart as a standalone SVG document. */
export const renderLineChart = (chart: LineChart): string => {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xMax = Math.max(...chart.xs);
  const yStep = niceStep(Math.max(...chart.series.flatMap((s) => s.values), 1));
  const yMax = Math.ceil(Math.max(...chart.series.flatMap((s) => s.values), 1) / yStep) * yStep;
  const xStep = niceStep(xMax);
  const x = (value: number) => MARGIN.left + (value / xMax) * plotWidth;
  const y = (value: number) => MARGIN.top + plotHeight - (value / yMax) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escape(chart.title)}</text>`,
  ];
  for (let tick = 0; tick <= yMax + yStep / 2; tick += yStep) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(tick) + 4}" text-anchor="end">${format(tick)}</text>`,
    );
  }
  for (let tick = 0; tick <= xMax + xStep / 2; tick += xStep) {
    parts.push(
      `<line x1="${x(tick)}" x2="${x(tick)}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight + 5}" stroke="black"/>`,
      `<text x="${x(tick)}" y="${MARGIN.top + plotHeight + 20}" text-anchor="middle">${format(tick)}</text>`,
    );
  }
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight}" stroke="black"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="black"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escape(chart.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`,
  );
  for (const [index, series] of chart.series.entries()) {
    const points = chart.xs.map((xValue, i) => `${x(xValue).toFixed(1)},${y(series.values[i] ?? 0).toFixed(1)}`);
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`);
    for (const point of points) {
      const [px, py] = point.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="3.5" fill="${series.color}"/>`);
    }
    const legendY = MARGIN.top + 8 + index * 18;
    parts.push(
      `<line x1="${MARGIN.left + 12}" x2="${MARGIN.left + 36}" y1="${legendY}" y2="${legendY}" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${MARGIN.left + 42}" y="${legendY + 4}">${escape(series.label)}</text>`,
    );
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
};
