import { generateKeyPairSync } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { entryHash, readAuditLog, recomputeHash } from '../../store/audit-log';
import { keyIdOf, signerOf, verifyText } from '../../store/signing';
import { auditLogPath } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

const run = { workflowId: 'wf-1', runId: 'run-1' };

describe('audit log', () => {
  it('chains entries by hash and ignores a repeated event of the same run', async () => {
    const store = storeIn(await tempDir());
    await recordAudit(store, { event: 'run.started', run, month: '2026-06', actor: 'ana' });
    await recordAudit(store, { event: 'stage.finished', run, month: '2026-06', actor: 'ana', subject: 'load' });
    await recordAudit(store, { event: 'stage.finished', run, month: '2026-06', actor: 'ana', subject: 'load' }); // retried
    await recordAudit(store, { event: 'stage.finished', run, month: '2026-06', actor: 'ana', subject: 'features' });
    const entries = await readAuditLog(store);
    expect(entries.map((e) => [e.seq, e.event, e.subject ?? ''])).toEqual([
      [1, 'run.started', ''],
      [2, 'stage.finished', 'load'],
      [3, 'stage.finished', 'features'],
    ]);
    entries.forEach((entry, i) => {
      const { hash, ...body } = entry;
      expect(entryHash(body)).toBe(hash);
      expect(entry.prevHash).toBe(i === 0 ? '0'.repeat(64) : entries[i - 1].hash);
    });
  });

  it('reads only whole entries while another one is being appended', async () => {
    const store = storeIn(await tempDir());
    await recordAudit(store, { event: 'run.started', run, month: '2026-06', actor: 'ana' });
    await appendFile(auditLogPath(store), '{"seq":2,"event":"stage.fin');
    expect((await readAuditLog(store)).map((e) => e.seq)).toEqual([1]);
  });

  it('gives a whole last entry that lost its newline its newline back before appending after it', async () => {
    const store = storeIn(await tempDir());
    await recordAudit(store, { event: 'run.started', run, month: '2026-06', actor: 'ana' });
    await recordAudit(store, { event: 'stage.finished', run, month: '2026-06', actor: 'ana', subject: 'load' });
    const path = auditLogPath(store);
    await writeFile(path, (await readFile(path, 'utf8')).replace(/\n$/, ''));
    await recordAudit(store, { event: 'stage.finished', run, month: '2026-06', actor: 'ana', subject: 'features' });
    const entries = await readAuditLog(store);
    expect(entries.map((e) => [e.seq, e.subject ?? ''])).toEqual([
      [1, ''],
      [2, 'load'],
      [3, 'features'],
    ]);
    entries.slice(1).forEach((entry, i) => expect(entry.prevHash).toBe(entries[i].hash));
  });

  it('ends a last line of blanks before appending after it', async () => {
    const store = storeIn(await tempDir());
    await recordAudit(store, { event: 'run.started', run, month: '2026-06', actor: 'ana' });
    await appendFile(auditLogPath(store), '  ');
    await recordAudit(store, { event: 'stage.finished', run, month: '2026-06', actor: 'ana', subject: 'load' });
    expect((await readAuditLog(store)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('appends nothing after a cut-off last line, naming it', async () => {
    const store = storeIn(await tempDir());
    await recordAudit(store, { event: 'run.started', run, month: '2026-06', actor: 'ana' });
    await appendFile(auditLogPath(store), '{"seq":2,"event":"stage.fin');
    const before = await readFile(auditLogPath(store), 'utf8');
    await expect(
      recordAudit(store, { event: 'stage.finished', run, month: '2026-06', actor: 'ana', subject: 'load' }),
    ).rejects.toThrow(/ends in an unfinished line after entry 1 \("\{\\"seq\\":2,\\"event\\":\\"stage\.fin"\)/);
    expect(await readFile(auditLogPath(store), 'utf8')).toBe(before);
  });

  it('serialises concurrent writers into one unbroken chain', async () => {
    const store = storeIn(await tempDir());
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        recordAudit(store, {
          event: 'run.started',
          run: { workflowId: `wf-${i}`, runId: 'r' },
          month: '2026-06',
          actor: 'ci',
        }),
      ),
    );
    const entries = await readAuditLog(store);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    entries.slice(1).forEach((entry, i) => expect(entry.prevHash).toBe(entries[i].hash));
  });

  it('exposes an edited entry through its hash', async () => {
    const store = storeIn(await tempDir());
    const entry = await recordAudit(store, { event: 'run.started', run, month: '2026-06', actor: 'ana' });
    const forged = { ...entry, actor: 'mallory' };
    await appendFile(auditLogPath(store), JSON.stringify(forged) + '\n');
    const [, tampered] = await readAuditLog(store);
    const { hash, ...body } = tampered;
    expect(entryHash(body)).not.toBe(hash);
  });
});

describe('audit log signatures', () => {
  it('with a signing key every entry carries an Ed25519 signature of its hash, and the hash ignores it', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signer = signerOf(privateKey);
    const store = storeIn(await tempDir());
    await recordAudit(store, { event: 'run.started', run, month: '2026-06', actor: 'ana' }, signer);
    await recordAudit(store, { event: 'run.published', run, month: '2026-06', actor: 'ana' }, signer);
    const entries = await readAuditLog(store);
    for (const entry of entries) {
      expect(entry.signature?.keyId).toBe(keyIdOf(publicKey));
      expect(verifyText(publicKey, entry.hash, entry.signature!.value)).toBe(true);
      expect(recomputeHash(entry)).toBe(entry.hash);
    }
    expect(JSON.stringify(entries)).not.toContain('PRIVATE');
  });
});
