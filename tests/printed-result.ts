import { vi } from 'vitest';
import { printResult } from '../cli/format';

type RunResult = Parameters<typeof printResult>[0];

/** What `segflow run` prints for a result: a plain one (1,000 subscribers, AUC 0.8) with `changes`. */
export function printedResult(changes: Partial<RunResult> = {}): string {
  const result: RunResult = {
    month: '2026-10',
    version: 1,
    snapshotPath: '/s',
    manifestPath: '/s/manifest.json',
    alreadyPublished: false,
    paramsHash: 'p',
    subscribers: 1_000,
    rowsQuarantined: 0,
    segments: [],
    churnRocAuc: 0.8,
    churnTopDecileLift: 3,
    highRiskSubscribers: 10,
    auditHead: null,
    ...changes,
  };
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  try {
    printResult(result, { workflowId: 'w', namespace: 'default' });
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}
