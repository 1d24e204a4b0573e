import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { decimals } from './html';

/**
 * Charts for the run report as Vega-Lite specs, rendered to static SVG on the worker: the
 * report needs no script and no network to display, and the same data gives the same bytes.
 */
export async function renderChart(spec: TopLevelSpec): Promise<string> {
  const full = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CHART_THEME,
    ...spec,
  } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(full).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const CHART_THEME = {
  font: 'Helvetica, Arial, sans-serif',
  view: { stroke: 'transparent' },
  axis: { labelColor: '#444', titleColor: '#222', gridColor: '#e5e7eb', domainColor: '#9ca3af' },
  range: { category: ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#dc2626', '#ca8a04', '#4b5563'] },
} as const;

const WIDTH = 560;

export function segmentSizes(rows: { segment: string; subscribers: number; revenue_share: number }[]) {
  return renderChart({
    width: WIDTH,
    height: { step: 26 },
    title: 'Subscribers per segment',
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'segment', type: 'nominal', sort: null, title: null, axis: { labelLimit: 300 } },
      x: { field: 'subscribers', type: 'quantitative', title: 'subscribers' },
      color: {
        field: 'revenue_share',
        type: 'quantitative',
        title: 'revenue share',
        scale: { scheme: 'blues' },
        legend: { format: '.0%' },
      },
    },
  });
}

export function paretoCurve(points: { subscriber_share: number; revenue_share: number }[]) {
  return renderChart({
    width: WIDTH,
    height: 260,
    title: 'Revenue pyramid: revenue share of the top subscribers',
    data: { values: points },
    layer: [
      {
        mark: { type: 'area', opacity: 0.25, color: '#2563eb' },
        encoding: {
          x: {
            field: 'subscriber_share',
            type: 'quantitative',
            axis: { format: '.0%' },
            title: 'top share of subscribers (by ARPU)',
          },
          y: { field: 'revenue_share', type: 'quantitative', axis: { format: '.0%' }, title: 'share of revenue' },
        },
      },
      {
        mark: { type: 'line', color: '#2563eb' },
        encoding: {
          x: { field: 'subscriber_share', type: 'quantitative' },
          y: { field: 'revenue_share', type: 'quantitative' },
        },
      },
    ],
  });
}

export function valueStabilityGrid(
  cells: { value_tier: string; stability: string; subscribers: number; priority: number }[],
) {
  return renderChart({
    width: 320,
    height: 200,
    // short: Vega sizes the view to an overestimate of the title's width
    title: 'Subscribers by value and stability',
    data: { values: cells.map((c) => ({ ...c, label: `${c.subscribers.toLocaleString('en-US')} (P${c.priority})` })) },
    encoding: {
      x: { field: 'stability', type: 'nominal', sort: ['unstable', 'stable'], title: null, axis: { labelAngle: 0 } },
      y: { field: 'value_tier', type: 'nominal', sort: ['key', 'high', 'mid', 'low'], title: 'value tier' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'priority',
            type: 'quantitative',
            scale: { scheme: 'orangered', reverse: true },
            legend: null,
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 12 },
        encoding: {
          text: { field: 'label', type: 'nominal' },
          // white on the two darkest (most urgent) cells
          color: { condition: { test: 'datum.priority <= 2', value: 'white' }, value: '#111827' },
        },
      },
    ],
  });
}

export function rocChart(points: { fpr: number; tpr: number }[], auc: number) {
  return renderChart({
    width: 300,
    height: 300,
    title: `Churn holdout ROC (AUC ${decimals(auc, 3)})`,
    layer: [
      {
        data: {
          values: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: '#9ca3af' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      },
      {
        data: { values: points },
        mark: { type: 'line', color: '#dc2626' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: 'false positive rate' },
          y: { field: 'tpr', type: 'quantitative', title: 'true positive rate' },
        },
      },
    ],
  });
}

export function liftChart(liftByDecile: number[]) {
  return renderChart({
    width: 300,
    height: 300,
    title: 'Lift by score decile (1 = riskiest 10%)',
    data: { values: liftByDecile.map((lift, i) => ({ decile: i + 1, lift })) },
    layer: [
      {
        mark: { type: 'bar', color: '#ea580c' },
        encoding: {
          x: { field: 'decile', type: 'ordinal', axis: { labelAngle: 0 } },
          y: { field: 'lift', type: 'quantitative', title: 'churn rate / base rate' },
        },
      },
      { mark: { type: 'rule', color: '#4b5563', strokeDash: [4, 4] }, encoding: { y: { datum: 1 } } },
    ],
  });
}

export function importanceChart(importance: { label: string; share: number }[]) {
  return renderChart({
    width: WIDTH,
    height: { step: 20 },
    title: 'What the churn tree splits on (share of impurity decrease)',
    data: { values: importance },
    mark: { type: 'bar', color: '#9333ea' },
    encoding: {
      // no limit: without a canvas Vega overestimates text widths and would cut plain labels short
      y: { field: 'label', type: 'nominal', sort: '-x', title: null, axis: { labelLimit: 0 } },
      x: { field: 'share', type: 'quantitative', axis: { format: '.0%' }, title: null },
    },
  });
}

/**
 * Subscribers from last month's segment (rows) to this month's (columns). Rows and columns are
 * labelled and ordered by the caller (segment id, with joiners and leavers last), so a segment
 * that kept its id sits on the diagonal even when its name changed.
 */
export function migrationChart(
  cells: { from: string; to: string; subscribers: number }[],
  order: { from: string[]; to: string[] },
  previousMonth: string,
  month: string,
) {
  return renderChart({
    width: { step: 56 },
    height: { step: 30 },
    title: `Subscribers by segment: ${previousMonth} (rows) to ${month} (columns)`,
    // white numbers on the darkest cells
    data: {
      values: cells.map((c) => ({ ...c, dark: c.subscribers > 0.3 * Math.max(...cells.map((x) => x.subscribers)) })),
    },
    encoding: {
      x: {
        field: 'to',
        type: 'nominal',
        sort: order.to,
        title: month,
        axis: { orient: 'top', labelAngle: -40, labelAlign: 'left', labelLimit: 0 },
      },
      y: { field: 'from', type: 'nominal', sort: order.from, title: previousMonth, axis: { labelLimit: 0 } },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'subscribers',
            type: 'quantitative',
            scale: { scheme: 'greens', type: 'sqrt' },
            legend: null,
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'subscribers', type: 'quantitative', format: ',' },
          color: { condition: { test: 'datum.dark', value: 'white' }, value: '#111827' },
        },
      },
    ],
  });
}

/** Rows per outcome on a log axis from 1 (a handful of quarantined rows still shows beside millions loaded). */
export function dataQualityChart(rows: { outcome: string; rows: number }[]) {
  const bar = { field: 'rows', type: 'quantitative', title: 'rows (log scale)' } as const;
  return renderChart({
    width: WIDTH,
    height: { step: 24 },
    title: 'Input rows: loaded and quarantined (by reason)',
    data: { values: rows.filter((r) => r.rows > 0) },
    encoding: {
      y: {
        field: 'outcome',
        type: 'nominal',
        sort: { field: 'rows', order: 'descending' },
        title: null,
        axis: { labelLimit: 0 },
      },
    },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          // a log scale has no 0: bars start at 1 row
          x: { ...bar, scale: { type: 'log', domainMin: 1 }, axis: { format: '~s', tickCount: 6 } },
          x2: { datum: 1 },
          color: { condition: { test: "datum.outcome === 'loaded'", value: '#16a34a' }, value: '#dc2626' },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 },
        encoding: { x: bar, text: { field: 'rows', type: 'quantitative', format: ',' } },
      },
    ],
  });
}
