import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { entryHash, GENESIS_HASH, legacyEntryHash, type AuditEntry } from './audit-log';
import { hashFile } from './hashing';
import { listVersions, readManifest } from './snapshots';
import { auditLogPath, versionDir, type StoreConfig } from './layout';
import { listMonths, resolveSnapshot } from './snapshots';

export interface AuditProblem {
  /** The file, and line or snapshot, where the problem is. */
  where: string;
  problem: string;
}

export interface AuditReport {
  ok: boolean;
  entries: number;
  snapshots: number;
  filesChecked: number;
  problems: AuditProblem[];
}

/**
 * Checks the audit log's hash chain and every snapshot against its manifest and the audit log,
 * and says exactly what was altered: an edited or removed log entry, a changed, missing or
 * extra snapshot file, an edited manifest, a snapshot the log never recorded.
 */
export async function verifyAudit(store: StoreConfig): Promise<AuditReport> {
  const problems: AuditProblem[] = [];
  const logPath = auditLogPath(store);
  const text = await readFile(logPath, 'utf8').catch(() => '');
  const entries: AuditEntry[] = [];
  let previousHash = GENESIS_HASH;
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${logPath}:${index + 1}`;
    let entry: AuditEntry;
    try {
      entry = JSON.parse(line) as AuditEntry;
    } catch {
      problems.push({ where, problem: 'not valid JSON (the line was edited or truncated)' });
      return;
    }
    const { hash, ...body } = entry;
    if (entryHash(body) !== hash && legacyEntryHash(body) !== hash)
      problems.push({ where, problem: `entry seq ${entry.seq} was edited: its content no longer matches its hash` });
    if (entry.prevHash !== previousHash) {
      problems.push({
        where,
        problem: `chain broken before seq ${entry.seq}: prevHash does not match the previous entry (an entry was removed, inserted or reordered)`,
      });
    }
    previousHash = hash;
    entries.push(entry);
  });

  const publishedBy = new Map<string, { manifestSha256?: string; runId: string }>();
  for (const entry of entries) {
    if (entry.event !== 'run.published') continue;
    const details = entry.details as { version: number; manifestSha256?: string };
    publishedBy.set(`${entry.month}/v${details.version}`, {
      manifestSha256: details.manifestSha256,
      runId: entry.run.runId,
    });
  }

  let snapshots = 0;
  let filesChecked = 0;
  for (const month of await listMonths(store)) {
    const versions = await listVersions(store, month);
    const latest = await resolveSnapshot(store, month).then(
      (ref) => ref.version,
      () => undefined,
    );
    if (versions.length > 0 && latest !== Math.max(...versions)) {
      problems.push({
        where: `snapshots/${month}/latest.json`,
        problem: `points to v${latest ?? '?'} but the newest version is v${Math.max(...versions)}`,
      });
    }
    for (const version of versions) {
      snapshots += 1;
      const dir = versionDir(store, month, version);
      const where = `snapshots/${month}/v${version}`;
      const manifest = await readManifest(store, month, version).catch(() => undefined);
      if (!manifest) {
        problems.push({ where, problem: 'manifest.json is missing or not valid JSON' });
        continue;
      }
      const recorded = publishedBy.get(`${month}/v${version}`);
      const manifestHash = (await hashFile(join(dir, 'manifest.json'))).sha256;
      if (!recorded) problems.push({ where, problem: 'not recorded as published in the audit log' });
      else if (recorded.manifestSha256 && recorded.manifestSha256 !== manifestHash) {
        problems.push({
          where: `${where}/manifest.json`,
          problem: 'manifest.json was modified after publishing (its hash differs from the audit log)',
        });
      }
      const expected = new Set(['manifest.json', ...manifest.outputs.map((o) => o.file)]);
      for (const name of await readdir(dir))
        if (!expected.has(name))
          problems.push({ where: `${where}/${name}`, problem: 'file not listed in the manifest was added' });
      for (const output of manifest.outputs) {
        filesChecked += 1;
        const actual = await hashFile(join(dir, output.file)).catch(() => undefined);
        if (!actual)
          problems.push({ where: `${where}/${output.file}`, problem: 'file listed in the manifest is missing' });
        else if (actual.sha256 !== output.sha256) {
          problems.push({
            where: `${where}/${output.file}`,
            problem: `content changed: sha256 ${actual.sha256.slice(0, 12)}… but the manifest says ${output.sha256.slice(0, 12)}…`,
          });
        }
      }
    }
  }
  return { ok: problems.length === 0, entries: entries.length, snapshots, filesChecked, problems };
}
