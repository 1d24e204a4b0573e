import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { printRunResult } from '../cli/commands/run';
import type { SnapshotManifest } from '../store/manifest';

type RunResult = Parameters<typeof printRunResult>[0];

/**
 * What `segflow run` prints for a result: a plain one (1,000 subscribers, AUC 0.8) with `changes`,
 * then, given a published `manifest`, what it says beneath (its quarantine, reuse, campaign lines).
 */
export function printedResult(changes: Partial<RunResult> = {}, manifest?: Partial<SnapshotManifest>): string {
  const folder = manifest ? mkdtempSync(join(tmpdir(), 'segflow-printed-')) : undefined;
  const result: RunResult = {
    month: '2026-10',
    version: 1,
    snapshotPath: folder ?? '/s',
    manifestPath: folder ? join(folder, 'manifest.json') : '/s/manifest.json',
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
  if (folder) writeFileSync(result.manifestPath, JSON.stringify({ quarantineByReason: {}, metrics: {}, ...manifest }));
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  try {
    printRunResult(result, { workflowId: 'w', namespace: 'default' });
  } finally {
    log.mockRestore();
    if (folder) rmSync(folder, { recursive: true, force: true });
  }
  return lines.join('\n');
}
