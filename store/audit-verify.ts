import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { formatHead, GENESIS_HASH, hashMatches, type AuditEntry, type AuditHead } from './audit-log';
import { hashFile } from './hashing';
import { latestVersion, listMonths, listVersions, readManifest } from './snapshots';
import { auditLogPath, monthDir, versionDir, type StoreConfig } from './layout';
import { MANIFEST_SIGNATURE_FILE, verifyText } from './signing';

export interface AuditProblem {
  /** The file, and line or snapshot, where the problem is. */
  where: string;
  problem: string;
}

export interface AuditReport {
  ok: boolean;
  entries: number;
  /** The last entry of the log as it is now (what `audit head` prints). */
  head: AuditHead | null;
  /** Snapshot folders checked against their manifests. */
  snapshots: number;
  /** `run.published` entries, and how many of those were retired on purpose. */
  published: number;
  retired: number;
  filesChecked: number;
  /** "checked" with --public-key (every entry and manifest), else "not checked". */
  signatures: 'checked' | 'not checked';
  problems: AuditProblem[];
}

export interface VerifyOptions {
  /** Ed25519 public key: every audit entry and every manifest must carry a signature it verifies. */
  publicKey?: KeyObject;
  /** A head kept outside the store (`audit head`): that entry must still be in the chain, unchanged. */
  expectHead?: AuditHead;
}

interface Recorded {
  seq: number;
  runId: string;
  manifestSha256?: string;
}

/**
 * Checks the audit log's hash chain (and signatures, given the public key) and the store against
 * it, and says exactly what was altered: an edited, removed or re-signed log entry, a truncated
 * tail (against an anchored head), a published snapshot that vanished without being retired, a
 * changed, missing or extra snapshot file, an edited manifest, a snapshot the log never recorded,
 * a latest.json that is missing or points at a missing or retired version.
 */
export async function verifyAudit(store: StoreConfig, options: VerifyOptions = {}): Promise<AuditReport> {
  const { publicKey, expectHead } = options;
  const problems: AuditProblem[] = [];
  const logPath = auditLogPath(store);
  const entries = checkChain(await readFile(logPath, 'utf8').catch(() => ''), logPath, publicKey, problems);
  const last = entries.at(-1);
  const head = last ? { seq: last.seq, hash: last.hash } : null;
  if (expectHead) checkAnchoredHead(entries, expectHead, logPath, problems);

  const published = new Map<string, Recorded>();
  const retired = new Map<string, number>();
  for (const entry of entries) {
    const details = (entry.details ?? {}) as { version?: number; manifestSha256?: string };
    if (entry.event === 'run.published' && details.version !== undefined)
      published.set(`${entry.month}/v${details.version}`, {
        seq: entry.seq,
        runId: entry.run.runId,
        manifestSha256: details.manifestSha256,
      });
    if (entry.event === 'snapshot.retired' && details.version !== undefined)
      retired.set(`${entry.month}/v${details.version}`, entry.seq);
  }

  let snapshots = 0;
  let filesChecked = 0;
  const months = new Set([...(await listMonths(store)), ...entries.map((e) => e.month)]);
  for (const month of [...months].sort()) {
    let present: number[];
    try {
      present = await listVersions(store, month);
    } catch {
      continue; // an entry's month that is not a month cannot name a folder; its hash check covers it
    }
    const presentSet = new Set(present);
    for (const [ref, recorded] of published) {
      const [refMonth, v] = ref.split('/v');
      if (refMonth !== month || presentSet.has(Number(v))) continue;
      if (!retired.has(ref))
        problems.push({
          where: `snapshots/${ref}`,
          problem: `PUBLISHED SNAPSHOT MISSING: published (audit seq ${recorded.seq}, run ${recorded.runId}) but its folder is gone, and no snapshot.retired entry explains it`,
        });
    }
    await checkLatest(store, month, present, retired, problems);
    for (const version of present) {
      snapshots += 1;
      const ref = `${month}/v${version}`;
      const where = `snapshots/${ref}`;
      const retiredAt = retired.get(ref);
      if (retiredAt !== undefined)
        problems.push({
          where,
          problem: `retired (audit seq ${retiredAt}) but its folder is still here; run segflow snapshots retire again`,
        });
      filesChecked += await checkSnapshot(store, month, version, published.get(ref), publicKey, problems);
    }
  }
  return {
    ok: problems.length === 0,
    entries: entries.length,
    head,
    snapshots,
    published: published.size,
    retired: [...retired.keys()].filter((ref) => published.has(ref)).length,
    filesChecked,
    signatures: publicKey ? 'checked' : 'not checked',
    problems,
  };
}

function checkChain(text: string, logPath: string, publicKey: KeyObject | undefined, problems: AuditProblem[]) {
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
    if (!hashMatches(entry))
      problems.push({ where, problem: `entry seq ${entry.seq} was edited: its content no longer matches its hash` });
    if (entry.prevHash !== previousHash) {
      problems.push({
        where,
        problem: `chain broken before seq ${entry.seq}: prevHash does not match the previous entry (an entry was removed, inserted or reordered)`,
      });
    }
    if (publicKey) {
      if (!entry.signature) problems.push({ where, problem: `entry seq ${entry.seq} is not signed` });
      else if (!verifyText(publicKey, entry.hash, entry.signature.value))
        problems.push({
          where,
          problem: `entry seq ${entry.seq}: signature does not verify with the given public key (signed by key ${entry.signature.keyId}, or rewritten after signing)`,
        });
    }
    previousHash = entry.hash;
    entries.push(entry);
  });
  return entries;
}

function checkAnchoredHead(entries: AuditEntry[], expected: AuditHead, logPath: string, problems: AuditProblem[]) {
  const found = entries.find((entry) => entry.seq === expected.seq);
  const last = entries.at(-1);
  if (!found)
    problems.push({
      where: logPath,
      problem: `ANCHORED HEAD MISSING: entry ${formatHead(expected)} is no longer in the log, which ends at seq ${last?.seq ?? 0} (its tail was truncated)`,
    });
  else if (found.hash !== expected.hash)
    problems.push({
      where: logPath,
      problem: `ANCHORED HEAD CHANGED: entry seq ${expected.seq} has hash ${found.hash.slice(0, 12)}… but ${expected.hash.slice(0, 12)}… was anchored (the log was rewritten from there on)`,
    });
}

async function checkLatest(
  store: StoreConfig,
  month: string,
  present: number[],
  retired: Map<string, number>,
  problems: AuditProblem[],
): Promise<void> {
  const where = `snapshots/${month}/latest.json`;
  const exists = await readFile(join(monthDir(store, month), 'latest.json')).then(
    () => true,
    () => false,
  );
  const latest = await latestVersion(store, month);
  const newest = present.length > 0 ? Math.max(...present) : undefined;
  if (!exists) {
    if (newest !== undefined)
      problems.push({ where, problem: `latest.json is missing although v${present.join(', v')} are published` });
    return;
  }
  if (latest === undefined) problems.push({ where, problem: 'latest.json is not valid JSON with a version' });
  else if (!present.includes(latest))
    problems.push({
      where,
      problem: retired.has(`${month}/v${latest}`)
        ? `latest.json points to v${latest}, which was retired`
        : `latest.json points to v${latest}, which is missing`,
    });
  else if (latest !== newest)
    problems.push({ where, problem: `points to v${latest} but the newest version is v${newest}` });
}

/** One snapshot folder against its manifest, the audit log and (given a key) its signature; returns files checked. */
async function checkSnapshot(
  store: StoreConfig,
  month: string,
  version: number,
  recorded: Recorded | undefined,
  publicKey: KeyObject | undefined,
  problems: AuditProblem[],
): Promise<number> {
  const dir = versionDir(store, month, version);
  const where = `snapshots/${month}/v${version}`;
  const manifest = await readManifest(store, month, version).catch(() => undefined);
  if (!manifest) {
    problems.push({ where, problem: 'manifest.json is missing or not valid JSON' });
    return 0;
  }
  const manifestHash = (await hashFile(join(dir, 'manifest.json'))).sha256;
  if (!recorded) problems.push({ where, problem: 'not recorded as published in the audit log' });
  else if (recorded.manifestSha256 && recorded.manifestSha256 !== manifestHash) {
    problems.push({
      where: `${where}/manifest.json`,
      problem: 'manifest.json was modified after publishing (its hash differs from the audit log)',
    });
  }
  const signature = await readFile(join(dir, MANIFEST_SIGNATURE_FILE), 'utf8').catch(() => undefined);
  if (publicKey) {
    const [keyId, value] = (signature ?? '').trim().split(' ');
    if (signature === undefined) problems.push({ where, problem: `${MANIFEST_SIGNATURE_FILE} is missing: not signed` });
    else if (!value || !verifyText(publicKey, await readFile(join(dir, 'manifest.json')), value))
      problems.push({
        where: `${where}/${MANIFEST_SIGNATURE_FILE}`,
        problem: `manifest signature does not verify with the given public key (signed by key ${keyId || '?'}, or manifest.json rewritten after signing)`,
      });
  }
  const expected = new Set(['manifest.json', ...manifest.outputs.map((o) => o.file)]);
  if (signature !== undefined) expected.add(MANIFEST_SIGNATURE_FILE);
  for (const name of await readdir(dir))
    if (!expected.has(name))
      problems.push({ where: `${where}/${name}`, problem: 'file not listed in the manifest was added' });
  for (const output of manifest.outputs) {
    const actual = await hashFile(join(dir, output.file)).catch(() => undefined);
    if (!actual) problems.push({ where: `${where}/${output.file}`, problem: 'file listed in the manifest is missing' });
    else if (actual.sha256 !== output.sha256) {
      problems.push({
        where: `${where}/${output.file}`,
        problem: `content changed: sha256 ${actual.sha256.slice(0, 12)}… but the manifest says ${output.sha256.slice(0, 12)}…`,
      });
    }
  }
  return manifest.outputs.length;
}
