import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertCodeUnchanged, pinCodeHash } from '../../activities/code-identity';
import { EnsembleThreads } from '../../activities/ml/ensemble-threads';
import { CodeChangedError } from '../../domain/errors';
import { sha256 } from '../../store/hashing';

describe('pinned code hashes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segflow-code-'));
  const file = join(dir, 'stage.sql');
  writeFileSync(file, 'SELECT 1;\n');
  const stageCode = pinCodeHash(
    'the test stage',
    () => [file],
    () => sha256(readFileSync(file, 'utf8')),
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('give the hash taken as the module loaded while the files are the same', () => {
    expect(stageCode()).toBe(sha256('SELECT 1;\n'));
    expect(() => assertCodeUnchanged()).not.toThrow();
  });

  it('stop the run with CodeChangedError once a file changed under the worker, and again once it is gone', () => {
    try {
      writeFileSync(file, 'SELECT 22;\n');
      expect(() => stageCode()).toThrow(CodeChangedError);
      expect(() => assertCodeUnchanged()).toThrow(/the test stage changed on disk since this worker started/);
      rmSync(file);
      expect(() => stageCode()).toThrow(/cannot be read any more/);
    } finally {
      writeFileSync(file, 'SELECT 1;\n');
    }
    expect(stageCode()).toBe(sha256('SELECT 1;\n'));
  });
});

describe("the ensemble's threads", () => {
  it('refuse to hand over a model when the code they compiled is not the code this process hashed', async () => {
    const threads = new EnsembleThreads('test', { startNow: true, codeHash: 'the hash of other files' });
    try {
      const rows = 64;
      const columns = [
        Float64Array.from({ length: rows }, (_, i) => i),
        Float64Array.from({ length: rows }, (_, i) => i % 7),
      ];
      const labels = Uint8Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? 1 : 0));
      threads.train({
        columns,
        labels,
        trainRows: Uint32Array.from({ length: rows }, (_, i) => i),
        options: { trees: 2, maxDepth: 2, learningRate: 0.1, minLeafSize: 2, seed: 1 },
      });
      const scored = threads.score(
        { columns, holdoutRows: Uint32Array.of(0, 1), scoreColumns: columns, reasons: 1 },
        async () => undefined,
      );
      await expect(scored).rejects.toThrow(CodeChangedError);
    } finally {
      await threads.terminate();
    }
  }, 30_000);
});
