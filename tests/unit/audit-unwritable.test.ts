import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { expect, it } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { auditLogPath } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

it('an audit log that may not be written stops with a typed error at once (retries would only repeat it); a full one is retried', async () => {
  const store = storeIn(await tempDir());
  const folder = dirname(auditLogPath(store));
  await mkdir(folder, { recursive: true });
  // a read-only file system stands for any refusal: root, as the tests run, ignores permissions
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', folder]);
  try {
    await expect(
      recordAudit(store, {
        event: 'run.requested',
        run: { workflowId: 'w', runId: 'r' },
        month: '2026-06',
        actor: 'ops',
        details: {},
      }),
    ).rejects.toMatchObject({
      name: 'SnapshotStoreError',
      message: expect.stringMatching(
        /^cannot write the audit log .*audit\.jsonl \(read-only or not permitted\): .*read-only file system/i,
      ),
    });
  } finally {
    execFileSync('umount', [folder]);
  }
  // full: a retryable error of its own, as space may be freed (a run.published must not give up at once)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', folder]);
  try {
    const entry = (n: number) =>
      recordAudit(store, {
        event: 'stage.finished',
        run: { workflowId: 'w', runId: 'r' },
        month: '2026-06',
        actor: 'ops',
        subject: `stage-${n}`,
        details: { filler: 'x'.repeat(1_000) },
      });
    let failure: unknown;
    for (let n = 0; n < 20 && !failure; n++)
      failure = await entry(n).then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toMatchObject({
      name: 'AuditLogFullError',
      message: expect.stringMatching(/^cannot write the audit log .*no space left on device.*the append is retried$/i),
    });
  } finally {
    execFileSync('umount', [folder]);
  }
});
