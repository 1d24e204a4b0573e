import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printedResult } from '../printed-result';
import { largestImportance } from '../../domain/too-good';
import { paramsHelp, RUN_PARAMS_SCHEMA_FILE } from '../../cli/params-help';
import { snapshotsTable } from '../../cli/snapshot-text';
import { padColumns, table } from '../../cli/options';
import { wrapWords } from '../../domain/campaign-reading';
import stringWidth from 'string-width';
import { changedParams, RunParamsSchema, runParamsJsonSchema } from '../../domain/params';
import type { SnapshotListing } from '../../store/snapshots';

describe('terminal output', () => {
  it('wraps words at the columns a terminal shows, a Chinese character two', () => {
    const text =
      "warning: 138 rows: channel '外呼+APP推送' is not a known channel; the channel breakdown is by the list's channel";
    const lines = wrapWords(text, 100, '  ');
    expect(lines.map((line) => stringWidth(line)).every((width) => width <= 100)).toBe(true);
    expect(lines.join(' ').replace(/ {2,}/g, ' ')).toBe(text);
    expect(lines).toHaveLength(2);
  });

  it("a run's result counts the rows that broke the contract apart from those of months outside the window", () => {
    const printed = printedResult({ rowsQuarantined: 13_927, rowsOutsideWindow: 13_919 });
    expect(printed).toContain(
      'rows quarantined        8 (broke the contract; 13,919 more rows of months outside the window were left out)',
    );
  });

  it('a holdout ROC AUC of 0.99 or more is called a likely leak, naming the feature the model leans on most', () => {
    const printed = printedResult;
    expect(printed({ churnRocAuc: 0.99996, churnTopFeature: { name: 'Abgang', importance: 0.894 } })).toContain(
      '  churn holdout ROC AUC   1.000\n    warning: holdout ROC AUC 1.000: a model this good usually means a column gives the label away (largest importance: Abgang, 89%); check it; to leave a column of yours out of the models, give it the type skip in the features of the mapping\n',
    );
    // an older worker's result names no feature
    expect(printed({ churnRocAuc: 0.99 })).toContain(
      'warning: holdout ROC AUC 0.990: a model this good usually means a column gives the label away; check it; to leave a column of yours out of the models, give it the type skip in the features of the mapping',
    );
    // a column of the user's named like a derived feature can be skipped: it gets the mapping's advice
    expect(printed({ churnRocAuc: 1, churnTopFeature: { name: 'arpu', importance: 0.9, source: 'user' } })).toContain(
      '(largest importance: arpu, 90%); check it; to leave a column of yours out of the models',
    );
    expect(largestImportance([{ name: 'arpu', importance: 0.9, source: 'user' }])).toEqual({
      name: 'arpu',
      importance: 0.9,
      source: 'user',
    });
    // a missing indicator is no column of the file: the warning names the column whose gaps it marks
    const indicator = { name: 'app missing', importance: 0.8, source: 'user', missingOf: 'app' };
    expect(largestImportance([indicator])).toEqual(indicator);
    expect(printed({ churnRocAuc: 1, churnTopFeature: indicator })).toContain(
      '(largest importance: app missing, 80%); whether app has a value gives it away: check that column (a value written only for those who stayed?); to leave it out of the models, give app the type skip in the features of the mapping',
    );
    // a feature segflow derives cannot be skipped in the mapping: the warning says what to check instead
    expect(printed({ churnRocAuc: 1, churnTopFeature: { name: 'spend_trend', importance: 0.47 } })).toContain(
      '(largest importance: spend_trend, 47%); spend_trend is derived from the usage columns: check whether the month before already shows who left',
    );
    expect(printed({ churnRocAuc: 1, churnTopFeature: { name: 'spend_trend', importance: 0.47 } })).not.toContain(
      'type skip',
    );
    for (const churnRocAuc of [0.989, Number.NaN])
      expect(printed({ churnRocAuc, churnTopFeature: { name: 'arpu', importance: 0.5 } })).not.toContain('warning');
  });

  it("a run's holdout ROC AUC comes with its interval and churners, and a warning when they are few", () => {
    expect(printedResult({ churnRocAuc: 0.866, churnHoldout: { rows: 6_048, churners: 121 } })).toContain(
      '  churn holdout ROC AUC   0.866 (95%: 0.825 to 0.907; 121 churners held out)\n  top-decile lift',
    );
    expect(printedResult({ churnRocAuc: 0.864, churnHoldout: { rows: 1_503, churners: 3 } })).toContain(
      '  churn holdout ROC AUC   0.864 (95%: 0.600 to 1.000; 3 churners held out)\n    warning: only 3 churners were held out to test the models',
    );
  });

  it('tables align Chinese text by the columns a terminal gives it (two a character)', () => {
    const lines = table([
      { name: '终端品牌', a: 'x' },
      { name: 'arpu', a: 'y' },
    ]).split('\n');
    // the second column starts at the same terminal column on every line
    const starts = lines.map((line) => stringWidth(line.slice(0, line.search(/\S+$/))));
    expect(new Set(starts).size).toBe(1);
    expect(lines[2]).toBe('终端品牌  x');
    expect(padColumns('广州', 6, 'right')).toBe('  广州');
  });

  it('snapshots list fits 100 columns, even with a long requester and a full hash', () => {
    const listing: SnapshotListing = {
      month: '2026-10',
      version: 12,
      latest: true,
      experiment: false,
      official: true,
      publishedAt: '2026-11-02T03:00:04.123Z',
      requestedBy: 'schedule:segflow-monthly-operator-team',
      workflowId: 'segflow-monthly-2026-11-02T03:00:00Z',
      paramsHash: 'f'.repeat(64),
      subscribers: 1_000_000,
      churnRocAuc: 0.81234,
      segments: 12,
    };
    const lines = snapshotsTable([
      listing,
      { ...listing, version: 11, latest: false },
      { ...listing, version: 10, latest: false, experiment: true, official: false },
    ]).split('\n');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(100);
    expect(lines[2]).toMatch(
      /^2026-10\/v12\* +2026-11-02 03:00 +schedule:segflow-mont… +1,000,000 +12 +0\.812 +ffffffff$/,
    );
    expect(lines[4]).toMatch(/^2026-10\/v10 \(x\) +2026-11-02 03:00 /);
    expect(lines.at(-1)).toMatch(/^\(x\) an experiment \(run --experiment\), not the month's latest/);
    // a run a rollback moved the latest away from is no experiment
    const rolledBack = snapshotsTable([listing, { ...listing, version: 13, latest: false, official: false }]);
    expect(rolledBack).toMatch(/2026-10\/v13 \(r\) /);
    expect(rolledBack).toContain("(r) replaced: a promotion moved the month's latest away from it");
    expect(rolledBack).not.toContain('(x)');
  });

  it("the help's JSON Schema file is the params schema's", () => {
    const stored: unknown = JSON.parse(readFileSync(RUN_PARAMS_SCHEMA_FILE, 'utf8'));
    expect(stored, 'out of date: npx tsx scripts/write-params-schema.ts').toEqual(runParamsJsonSchema());
  });

  it('every run parameter has a meaning in the help', () => {
    const help = paramsHelp();
    for (const [name, schema] of Object.entries(RunParamsSchema.shape)) {
      expect(schema.description, name).toBeTruthy();
      if (name !== 'month' && name !== 'input') expect(help).toContain(`  ${name} `);
    }
  });

  it('parameters that differ from the defaults', () => {
    expect(changedParams({ month: '2026-01', input: 'x', k: 4, treeDepth: 6, seed: 7 })).toEqual({
      k: 4,
      seed: 7,
    });
  });
});
