import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunParams } from '../../domain/params';
import { entryHash, GENESIS_HASH, legacyEntryHash, type AuditEntry } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import { canonicalJson, paramsHash } from '../../store/hashing';
import { auditLogPath } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

describe('canonical JSON and hashes', () => {
  it('sorts keys by UTF-16 code unit at every level, whatever the locale', () => {
    const value = {
      z: 1,
      b: 2,
      B: 3,
      _x: 4,
      é: 5,
      a: { kmeansRestarts: 1, kMin: 2, keyCustomerRevenueShare: 3, kMax: 4, k: 5 },
    };
    expect(canonicalJson(value)).toBe(
      '{"B":3,"_x":4,"a":{"k":5,"kMax":4,"kMin":2,"keyCustomerRevenueShare":3,"kmeansRestarts":1},"b":2,"z":1,"é":5}',
    );
    expect(canonicalJson([{ b: 1, a: 2 }, 'x'])).toBe('[{"a":2,"b":1},"x"]');
  });

  it('pins the parameters hash of a default run', () => {
    const parsed = parseRunParams({ month: '2026-06', input: 'data/usage' });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    // the same digest as Python's json.dumps(params, sort_keys=True, separators=(',', ':')) hashed with sha256;
    // it changes when a parameter is added (controlShare, churnModel, boost*, dispatchOrder, labels, contacts)
    expect(paramsHash(parsed.params)).toBe('fddb6afe66d0e04523a1df4f63adda73c1501825de9d49a201e133f33213ba3a');
    expect(paramsHash({ ...parsed.params })).toBe(
      paramsHash(Object.fromEntries(Object.entries(parsed.params).reverse()) as typeof parsed.params),
    );
  });

  it('still verifies an audit entry hashed with the old localeCompare key order', async () => {
    const store = storeIn(await tempDir());
    const parsed = parseRunParams({ month: '2026-06', input: 'data/usage', k: 4 });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const body: Omit<AuditEntry, 'hash'> = {
      event: 'run.requested',
      run: { workflowId: 'wf-1', runId: 'run-1' },
      month: '2026-06',
      actor: 'ana',
      details: { params: parsed.params },
      seq: 1,
      at: '2026-07-01T06:00:00.000Z',
      key: 'wf-1/run-1/run.requested',
      prevHash: GENESIS_HASH,
    };
    expect(legacyEntryHash(body)).not.toBe(entryHash(body)); // kMax, kMin and keyCustomerRevenueShare sort differently
    await mkdir(dirname(auditLogPath(store)), { recursive: true });
    await appendFile(auditLogPath(store), JSON.stringify({ ...body, hash: legacyEntryHash(body) }) + '\n');
    // a log of the run's request alone: that its run has no end is another finding than the hash's
    const hashFindings = async (of: typeof store) =>
      (await verifyAudit(of)).problems.map((p) => p.problem).filter((p) => !p.includes('RUN WITHOUT AN END'));
    expect(await hashFindings(store)).toEqual([]);

    const edited = storeIn(await tempDir());
    await mkdir(dirname(auditLogPath(edited)), { recursive: true });
    await appendFile(
      auditLogPath(edited),
      JSON.stringify({ ...body, actor: 'mallory', hash: legacyEntryHash(body) }) + '\n',
    );
    expect(await hashFindings(edited)).toEqual([expect.stringMatching(/was edited/)]);
  });
});
