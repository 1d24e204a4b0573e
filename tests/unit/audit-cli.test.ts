import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_MONTH, keyPair, segflowOnStore, storeWithVersions } from '../audit-store';
import { versionDir, type StoreConfig } from '../../store/layout';

/** `segflow audit verify | head` and `snapshots retire` as an auditor runs them: output and exit codes (0 OK, 1 findings, 2 usage). */
function segflowIn(store: StoreConfig) {
  const segflow = segflowOnStore(store);
  return async (...args: string[]) => {
    const { code, stdout, stderr } = await segflow(...args);
    return { code, output: stdout + stderr };
  };
}

describe('segflow audit on the command line', () => {
  it('head, verify, retire: names every finding, says what was not checked, exits 0/1/2', async () => {
    const store = await storeWithVersions(9);
    const segflow = segflowIn(store);

    const head = await segflow('audit', 'head');
    expect(head).toMatchObject({ code: 0, output: expect.stringMatching(/^27:[0-9a-f]{64}\n$/) });

    const started = Date.now();
    const ok = await segflow('audit', 'verify', '--expect-head', head.output.trim());
    console.log(`audit verify (9 snapshots, Temporal unreachable): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(ok.code).toBe(0);
    expect(ok.output).toContain(`OK: 27 audit entries chained (head ${head.output.trim()}), 9 published (0 retired)`);
    expect(ok.output).toContain('signatures: NOT checked (no --public-key)');
    expect(ok.output).toMatch(/temporal: runs NOT cross-checked \(cannot reach Temporal at 127\.0\.0\.1:1/);
    // neither Temporal nor an anchored head: the verdict itself says a cut tail goes unseen (exit 0 as documented)
    const unanchored = await segflow('audit', 'verify');
    expect(unanchored.code).toBe(0);
    expect(unanchored.output).toMatch(
      /^OK, Temporal NOT cross-checked \(cannot reach Temporal at 127\.0\.0\.1:1 \([^\n]*\)\): a log cut at its tail is not caught without it or --expect-head\n27 audit entries chained \(head 27:[0-9a-f]{64}\), 9 published \(0 retired\)/,
    );
    expect(unanchored.output).toMatch(/\ntemporal: runs NOT cross-checked \(cannot reach Temporal at 127\.0\.0\.1:1/);
    // a scheduled verify that must not pass on the log alone: exit 3 without Temporal, as an unreachable server
    expect(await segflow('audit', 'verify', '--require-temporal')).toMatchObject({
      code: 3,
      output: expect.stringMatching(/^OK, Temporal NOT cross-checked/),
    });
    const unchecked = await segflow('audit', 'verify', '--no-temporal');
    expect(unchecked.output).toMatch(
      /^OK, Temporal NOT cross-checked \(--no-temporal\): a log cut at its tail is not caught without it or --expect-head\n27 audit entries/,
    );

    const retired = await segflow('snapshots', 'retire', `${AUDIT_MONTH}/v9`, '--reason', 'deletion request #7');
    expect(retired).toMatchObject({ code: 0, output: expect.stringContaining('latest.json: v8') });
    expect(await segflow('snapshots', 'retire', AUDIT_MONTH, '--reason', 'x')).toMatchObject({ code: 2 });

    await rm(versionDir(store, AUDIT_MONTH, 2), { recursive: true });
    const missing = await segflow('audit', 'verify', '--no-temporal');
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('FAILED: 1 problem(s)');
    expect(missing.output).toContain(`snapshots/${AUDIT_MONTH}/v2: PUBLISHED SNAPSHOT MISSING`);
    expect(missing.output).toContain('9 published (1 retired), 7 snapshots');
    expect(missing.output).toContain('temporal: runs NOT cross-checked (--no-temporal)');

    const publicKeyPath = join(store.storeDir, '..', 'public.pem');
    await writeFile(publicKeyPath, keyPair().publicKey.export({ type: 'spki', format: 'pem' }));
    const unsigned = await segflow('audit', 'verify', '--no-temporal', '--public-key', publicKeyPath);
    expect(unsigned.code).toBe(1);
    expect(unsigned.output).toMatch(/entry seq 1 \([a-z.-]+ by [^)]+\) is not signed/);
    expect(unsigned.output).toContain('manifest.sig is missing: not signed');

    expect(await segflow('audit', 'verify', '--expect-head', '27:abc')).toMatchObject({
      code: 2,
      output: expect.stringContaining('must be <seq>:<hash>'),
    });
    expect(await segflow('audit', 'verify', '--public-key', join(store.storeDir, 'nope.pem'))).toMatchObject({
      code: 2,
      output: expect.stringContaining('cannot read a public key'),
    });
  });
});
