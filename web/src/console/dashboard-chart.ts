/**
 * The dashboard's metric chart, drawn by uPlot (npm `uplot`, bundled with the console by
 * scripts/build-web.sh, its stylesheet into web/console/app.css): one metric from
 * GET /dashboard/history over the last 1, 6 or 24 hours (what the sampler keeps), time on the
 * x axis in the box's time zone and the console's language, the value axis with its unit (%,
 * or bytes/s with k/M/G), a legend that shows the values under the cursor, and network as two
 * series (received, sent). The panel keeps its chart across the dashboard's 10 s refresh: new
 * data is set into the same plot, so the cursor and the chosen range stay.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from './api.ts';
import { el } from './form-fields.ts';
import { lang, words } from './i18n.ts';

const w = words({
  en: {
    chartTitle: '{metric} over the last {range}',
    chartEmpty: 'No samples yet in this range.',
    close: 'Close',
    range: 'Time range',
    h1: 'hour',
    h6: '6 hours',
    h24: '24 hours',
    button_h1: '1 hour',
    button_h6: '6 hours',
    button_h24: '24 hours',
    time: 'Time',
    percent: '{metric} (%)',
    received: 'Received (bytes/s)',
    sent: 'Sent (bytes/s)',
    cpu: 'CPU',
    memory: 'Memory',
    network: 'Network',
    disk: 'Disk',
    summary: '{title}. Time axis: {x}. Value axis: {y}.',
  },
  'zh-CN': {
    chartTitle: '最近{range}的{metric}',
    chartEmpty: '此时间范围内暂无数据。',
    close: '关闭',
    range: '时间范围',
    h1: '1 小时',
    h6: '6 小时',
    h24: '24 小时',
    button_h1: '1 小时',
    button_h6: '6 小时',
    button_h24: '24 小时',
    time: '时间',
    percent: '{metric}（%）',
    received: '接收（字节/秒）',
    sent: '发送（字节/秒）',
    cpu: 'CPU',
    memory: '内存',
    network: '网络',
    disk: '磁盘',
    summary: '{title}。时间轴：{x}。数值轴：{y}。',
  },
});

export type Metric = 'cpu' | 'memory' | 'network' | 'disk';
export const RANGES = { h1: 60, h6: 360, h24: 1440 } as const;
export type Range = keyof typeof RANGES;

interface Point {
  at: string;
  percent?: number | null;
  usedBytes?: number | null;
  rxBytesPerSecond?: number | null;
  txBytesPerSecond?: number | null;
}
interface History {
  minutes: number;
  timeZone?: string | null;
  points: Point[];
}

/** Bytes per second in k/M/G (powers of 1000, as the dashboard's cards count bytes). */
export function byteRate(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

const bytes = (n: number) => byteRate(n).replace('/s', '');

/** A formatter of times in the box's zone (falls back to the browser's when the zone is unknown to it). */
function timeFormat(zone: string | undefined, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  try {
    return new Intl.DateTimeFormat(lang(), { ...options, timeZone: zone });
  } catch {
    return new Intl.DateTimeFormat(lang(), options);
  }
}

/** The open chart: its panel, plot and the range shown. */
interface OpenChart {
  metric: Metric;
  range: Range;
  /** The language its words were written in (a switch builds the panel again). */
  lang: string;
  panel: HTMLElement;
  plot: uPlot | undefined;
  /** The points the plot shows now, and over how many minutes. */
  points: Point[];
  plotMinutes: number;
  resize: ResizeObserver | undefined;
}
let open: OpenChart | undefined;

export function openMetric(): Metric | undefined {
  return open?.metric;
}

/** Closes the chart and frees the plot. */
export function closeChart(): void {
  open?.plot?.destroy();
  open?.resize?.disconnect();
  open?.panel.remove();
  open = undefined;
}

/**
 * uPlot draws the axes on its canvas: the labels it drew are also written on the chart's box
 * (data-x-ticks, data-y-ticks) and said in its accessible name, for screen readers and tests.
 */
function noted(body: HTMLElement, axis: 'x' | 'y', labels: string[]): string[] {
  body.dataset[`${axis}Ticks`] = labels.join(' | ');
  return labels;
}

function options(metric: Metric, history: History, width: number, body: HTMLElement, shown: () => Point[]): uPlot.Options {
  const minutes = history.minutes;
  const zone = history.timeZone ?? undefined;
  const tick = timeFormat(zone, minutes > 360 ? { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false } : { hour: '2-digit', minute: '2-digit', hour12: false });
  const full = timeFormat(zone, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  const percentValue = (_u: uPlot, v: number | null, _s: number, i: number | null) => {
    if (v === null || v === undefined) return '—';
    const used = i === null ? undefined : shown()[i]?.usedBytes;
    return typeof used === 'number' ? `${v.toFixed(1)} % (${bytes(used)})` : `${v.toFixed(1)} %`;
  };
  const series: uPlot.Series[] = [{ label: w('time'), value: (_u, ts) => (ts === null ? '—' : full.format(ts * 1000)) }];
  if (metric === 'network') {
    series.push({ label: w('received'), stroke: '#1f6feb', width: 2, value: (_u, v) => byteRate(v) });
    series.push({ label: w('sent'), stroke: '#e07b00', width: 2, value: (_u, v) => byteRate(v) });
  } else {
    series.push({ label: w('percent', { metric: w(metric) }), stroke: '#1f6feb', fill: 'rgba(31,111,235,0.12)', width: 2, value: percentValue });
  }
  return {
    width,
    height: 220,
    series,
    tzDate: zone ? (ts) => uPlot.tzDate(new Date(ts * 1000), zone) : undefined,
    scales: {
      x: {
        time: true,
        range: () => {
          const now = Date.now() / 1000;
          return [now - minutes * 60, now];
        },
      },
      y: metric === 'network' ? { range: (_u, _min, max) => [0, Math.max(1000, max * 1.1)] } : { range: [0, 100] },
    },
    axes: [
      { values: (_u, splits) => noted(body, 'x', splits.map((s) => tick.format(s * 1000))), space: 70 },
      metric === 'network' ? { values: (_u, splits) => noted(body, 'y', splits.map((s) => byteRate(s))), size: 80 } : { values: (_u, splits) => noted(body, 'y', splits.map((s) => `${s} %`)), size: 55 },
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
}

function dataOf(metric: Metric, points: Point[]): uPlot.AlignedData {
  const x = points.map((p) => Date.parse(p.at) / 1000);
  if (metric === 'network') return [x, points.map((p) => p.rxBytesPerSecond ?? null), points.map((p) => p.txBytesPerSecond ?? null)];
  return [x, points.map((p) => p.percent ?? null)];
}

async function fetchHistory(metric: Metric, range: Range): Promise<History> {
  return api<History>('GET', `/dashboard/history?metric=${metric}&minutes=${RANGES[range]}&maxPoints=480`);
}

/** The chart's accessible name: its title and the axes' labels as drawn. */
function describe(body: HTMLElement, heading: HTMLElement): void {
  body.setAttribute('aria-label', w('summary', { title: heading.textContent ?? '', x: body.dataset.xTicks ?? '', y: body.dataset.yTicks ?? '' }));
}

/** Draws (or redraws in place) the chart of `metric` in the open panel. */
async function draw(chart: OpenChart): Promise<void> {
  const history = await fetchHistory(chart.metric, chart.range);
  if (open !== chart) return; // closed or replaced meanwhile
  const { panel } = chart;
  const body = panel.querySelector('.chart-body') as HTMLElement;
  const heading = panel.querySelector('h2') as HTMLElement;
  heading.textContent = w('chartTitle', { metric: w(chart.metric), range: w(chart.range) });
  panel.dataset.points = String(history.points.length);
  panel.dataset.minutes = String(history.minutes);
  for (const button of panel.querySelectorAll<HTMLButtonElement>('.chart-range button')) button.setAttribute('aria-pressed', String(button.dataset.range === chart.range));
  (panel.querySelector('.chart-empty') as HTMLElement).hidden = history.points.length > 0;
  chart.points = history.points;
  // The same range again (the 10 s refresh): new data into the same plot, the cursor stays.
  if (chart.plot && chart.plotMinutes === history.minutes) {
    chart.plot.setData(dataOf(chart.metric, history.points));
    describe(body, heading);
    return;
  }
  chart.plot?.destroy();
  chart.plotMinutes = history.minutes;
  const width = Math.max(280, body.clientWidth || panel.clientWidth - 40);
  chart.plot = new uPlot(options(chart.metric, history, width, body, () => chart.points), dataOf(chart.metric, history.points), body);
  body.setAttribute('role', 'img');
  describe(body, heading);
  chart.resize ??= new ResizeObserver(() => {
    const next = Math.max(280, body.clientWidth);
    if (chart.plot && Math.abs(chart.plot.width - next) > 4) chart.plot.setSize({ width: next, height: 220 });
  });
  chart.resize.observe(body);
}

/**
 * The chart panel of `metric`, placed after `anchor`: the open one kept (and its data
 * refreshed) when it shows the same metric, else a new one.
 */
export async function showChart(metric: Metric, anchor: Element, onError: (error: unknown) => void): Promise<void> {
  if (open && open.metric === metric && open.lang === lang()) {
    anchor.after(open.panel);
    await draw(open);
    return;
  }
  const range = open?.range ?? 'h1';
  closeChart();
  const rangeButtons = (Object.keys(RANGES) as Range[]).map((r) => {
    const button = el('button', { type: 'button', className: 'secondary', id: `chart-range-${r}` }, w(`button_${r}`));
    button.dataset.range = r;
    button.addEventListener('click', () => {
      if (!open) return;
      open.range = r;
      void draw(open).catch(onError);
    });
    return button;
  });
  const close = el('button', { type: 'button', className: 'close-chart', id: 'chart-close' }, w('close'));
  close.addEventListener('click', closeChart);
  const panel = el(
    'section',
    { className: 'panel', id: 'chart-panel' },
    el('h2', {}, ''),
    el('div', { className: 'chart-range toolbar', role: 'group', ariaLabel: w('range') }, ...rangeButtons),
    el('p', { className: 'chart-empty muted' }, w('chartEmpty')),
    el('div', { className: 'chart-body' }),
    close,
  );
  panel.dataset.metric = metric;
  open = { metric, range, lang: lang(), panel, plot: undefined, points: [], plotMinutes: 0, resize: undefined };
  anchor.after(panel);
  await draw(open);
}
