import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { AUDIT_MONTH, segflowOnStore, storeWithVersions } from '../audit-store';
import { versionDir } from '../../store/layout';

describe('a month whose snapshot folders were removed outside segflow', () => {
  it('snapshots list --month and show name what the audit log recorded of it', async () => {
    const store = await storeWithVersions(1);
    await rm(versionDir(store, AUDIT_MONTH, 1), { recursive: true });
    const segflow = segflowOnStore(store);
    const recorded = new RegExp(
      `${AUDIT_MONTH}/v1 published on \\d{4}-\\d{2}-\\d{2} \\(audit seq 3, run run-1\\) and no retirement of it: its folder was removed outside segflow \\(segflow audit verify\\)`,
    );
    // listed, marked: the log records it published and not retired (the walkthrough: left out)
    const list = await segflow('snapshots', 'list', '--month', AUDIT_MONTH);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${AUDIT_MONTH}/v1\\* \\(!\\)\\s+folder missing\\s+-`, 'm'));
    expect(list.stdout).toContain(
      "(!) folder missing: the audit log records it published and not retired, but its folder is gone (removed outside segflow): 'segflow audit verify'",
    );
    const show = await segflow('snapshots', 'show', AUDIT_MONTH);
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(recorded);
  });
});
