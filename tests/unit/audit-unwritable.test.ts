import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { expect, it } from 'vitest';
import { recordAudit } from '../../activities/audit';
import { auditLogPath } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

it('an audit log that cannot be written stops with a typed error at once (retries would only repeat it)', async () => {
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
        /^cannot write the audit log .*audit\.jsonl \(disk full, read-only or not permitted\): .*read-only file system/i,
      ),
    });
  } finally {
    execFileSync('umount', [folder]);
  }
});
