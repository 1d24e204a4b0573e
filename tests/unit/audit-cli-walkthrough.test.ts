import { readFile, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { auditLogPath } from '../../store/layout';
import { keyPair, segflowOnStore as segflowOn, storeWithVersions } from '../audit-store';

describe('segflow audit verify: usage errors before anything', () => {
  it('a malformed TEMPORAL_ADDRESS, --no-temporal with --require-temporal, a short --expect-head: exit 2', async () => {
    const store = await storeWithVersions(2);
    const typo = segflowOn(store, { TEMPORAL_ADDRESS: 'http://127.0.0.1:7433' });
    const verify = await typo('audit', 'verify');
    expect(verify).toMatchObject({ code: 2, stdout: '' });
    expect(verify.stderr).toContain(
      'segflow: a Temporal address is host:port or [IPv6 address]:port, without a scheme such as http://, got "http://127.0.0.1:7433"',
    );
    expect(verify.stderr).toContain('or verify without Temporal: --no-temporal');
    // a cron job's verify with the typo fails as a usage error, not as "OK, Temporal NOT cross-checked"
    expect(await typo('audit', 'verify', '--require-temporal')).toMatchObject({ code: 2 });
    // asked to go without Temporal, the address is not read
    expect(await typo('audit', 'verify', '--no-temporal')).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^OK, Temporal NOT cross-checked \(--no-temporal\)/),
    });

    const segflow = segflowOn(store);
    const both = await segflow('audit', 'verify', '--no-temporal', '--require-temporal');
    expect(both).toMatchObject({ code: 2, stdout: '' });
    expect(both.stderr).toContain('--require-temporal asks for the cross-check that --no-temporal leaves out');

    const head = (await segflow('audit', 'head')).stdout.trim();
    const short = await segflow('audit', 'verify', '--no-temporal', '--expect-head', `${head.slice(0, 14)}…`);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('with the whole hash (64 hex digits)');
    expect(await segflow('audit', 'verify', '--no-temporal', '--expect-head', head)).toMatchObject({ code: 0 });
  });
});

describe('segflow audit head', () => {
  it('refuses a tampered log (exit 1, naming the entry), says a missing log is missing', async () => {
    const store = await storeWithVersions(2);
    const segflow = segflowOn(store);
    expect(await segflow('audit', 'head')).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^6:[0-9a-f]{64}\n$/),
    });
    const path = auditLogPath(store);
    await writeFile(path, (await readFile(path, 'utf8')).replace(/"version":2(?![\s\S]*"version":2)/, '"version":9'));
    const tampered = await segflow('audit', 'head');
    expect(tampered).toMatchObject({ code: 1, stdout: '' });
    expect(tampered.stderr).toMatch(
      /^segflow: the audit log's chain is broken at seq 6 \(entry seq 6 was edited: its content no longer matches its hash\): no head is printed from it/,
    );
    await rm(path);
    const missing = await segflow('audit', 'head', '--json');
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toContain(`segflow: there is no audit log at ${path}: no head to anchor`);
  });
});

describe('segflow audit verify on a signed store without --public-key', () => {
  it('says so in the verdict and in --json', async () => {
    const { signer } = keyPair();
    const store = await storeWithVersions(2, signer);
    const segflow = segflowOn(store);
    const verify = await segflow('audit', 'verify', '--no-temporal');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(
      new RegExp(
        `^OK, Temporal NOT cross-checked \\(--no-temporal\\): a log cut at its tail is not caught without it or --expect-head; signatures NOT checked: all 6 entries are signed \\(key ${signer.keyId}\\)`,
      ),
    );
    const json = JSON.parse((await segflow('audit', 'verify', '--no-temporal', '--json')).stdout) as {
      caveats: string[];
      signed: unknown;
    };
    expect(json.signed).toEqual({ entries: 6, keyIds: [signer.keyId] });
    expect(json.caveats).toEqual([
      expect.stringMatching(/^Temporal NOT cross-checked/),
      expect.stringMatching(new RegExp(`^signatures NOT checked: all 6 entries are signed \\(key ${signer.keyId}\\)`)),
    ]);
  });
});
