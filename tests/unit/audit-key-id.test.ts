import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../../store/audit-verify';
import { REPO_ROOT } from '../../worker/config';
import { keyPair, storeWithVersions } from '../audit-store';

describe('audit verify with --public-key names the key it checked against', () => {
  it("prints the key's id, as findings name a signature's key, for the auditor to compare with theirs", async () => {
    const { signer, publicKey } = keyPair();
    const store = await storeWithVersions(2, signer);
    expect(await verifyAudit(store, { publicKey })).toMatchObject({ ok: true, keyId: signer.keyId });
    expect(await verifyAudit(store)).toMatchObject({ ok: true, signatures: 'not checked', keyId: null });

    const publicKeyPath = join(store.storeDir, '..', 'public.pem');
    await writeFile(publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }));
    const { stdout } = await promisify(execFile)(
      join(REPO_ROOT, 'bin', 'segflow'),
      ['audit', 'verify', '--no-temporal', '--public-key', publicKeyPath],
      { env: { ...process.env, SEGFLOW_STORE: store.storeDir, SEGFLOW_WORK: store.workDir } },
    );
    expect(stdout).toContain(
      `signatures: every entry and manifest signed by key ${signer.keyId} (checked against the public key)`,
    );
  });
});
