import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { commandUser } from '../../store/audit-record';
import { promoteSnapshot } from '../../pipelines/promote';
import { retireSnapshot } from '../../pipelines/retire';
import { actorText, readAuditLog } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import { AUDIT_MONTH as MONTH, keyPair, storeWithVersions } from '../audit-store';

describe('retire and promote record who ran them beside the actor typed', () => {
  it('records the OS user and host in the entry, and verify shows them where it names the actor', async () => {
    const store = await storeWithVersions(3);
    const { osUser } = commandUser();
    const typed = { reason: 'storage limit', actor: 'auditor-jane' };
    await retireSnapshot(store, { month: MONTH, version: 3 }, typed);
    await promoteSnapshot(store, { month: MONTH, version: 1 }, { ...typed, reason: 'rollback' });
    const [retired, promoted] = (await readAuditLog(store)).slice(-2);
    expect(retired).toMatchObject({
      event: 'snapshot.retired',
      actor: 'auditor-jane',
      details: { version: 3, reason: 'storage limit', osUser, host: hostname() },
    });
    expect(promoted).toMatchObject({
      event: 'snapshot.promoted',
      actor: 'auditor-jane',
      details: { version: 1, previous: 2, reason: 'rollback', osUser, host: hostname() },
    });
    expect(await verifyAudit(store)).toMatchObject({ ok: true, retired: 1 });

    // unsigned entries are named with their actor: the one typed and the one who ran the command
    const problems = (await verifyAudit(store, { publicKey: keyPair().publicKey })).problems.map((p) => p.problem);
    const who = osUser === 'auditor-jane' ? `(on ${hostname()})` : `(OS user ${osUser} on ${hostname()})`;
    expect(problems).toContain(`entry seq 10 (snapshot.retired by auditor-jane ${who}) is not signed`);
    expect(problems).toContain(`entry seq 11 (snapshot.promoted by auditor-jane ${who}) is not signed`);
    expect(problems).toContain('entry seq 1 (run.requested by ana) is not signed');
  });

  it('shows the actor alone where nothing else was recorded, and the host alone when the OS user is the actor', () => {
    expect(actorText({ actor: 'ana', details: { version: 1 } })).toBe('ana');
    expect(actorText({ actor: 'bob', details: { osUser: 'bob', host: 'ops-1' } })).toBe('bob (on ops-1)');
    expect(actorText({ actor: 'auditor-jane', details: { osUser: 'bob', host: 'ops-1' } })).toBe(
      'auditor-jane (OS user bob on ops-1)',
    );
    expect(actorText({ actor: 'root', details: { host: 'vm' } })).toBe('root (on vm)');
  });
});
