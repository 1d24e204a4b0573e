import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { RunParams } from '../domain/params';

/** Content hash and size of a file, streamed (input files can be gigabytes). */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  // 1 MB reads: with the default 64 KB, hashing 170 MB of Parquet took 0.16-0.27 s, with 1 MB 0.11 s
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Orders strings by UTF-16 code unit: the same on every runtime, unlike localeCompare, which follows the locale. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * JSON with object keys sorted at every level (by code unit, as RFC 8785 does), so a hash does
 * not depend on key order. `compare` exists only to recompute audit hashes written while keys were sorted with localeCompare.
 */
export function canonicalJson(value: unknown, compare: (a: string, b: string) => number = byCodeUnit): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => compare(a, b)))
      : inner,
  );
}

/** Equal parameters give equal hashes, whatever the key order. */
export function paramsHash(params: RunParams): string {
  return sha256(canonicalJson(params));
}

/**
 * A published file hashed now against the sha256 recorded for it (by its manifest, or by the
 * measurement that read it): its sha256 now, with `changed` ("sha256 <recorded> then, <now> now",
 * 12 hex digits each) when it differs from `recorded`; `error` when it cannot be read. Without a
 * recorded sha256 (a manifest from before it was recorded) nothing is compared.
 */
export async function hashAgainstRecorded(
  path: string,
  recorded: string | undefined,
): Promise<{ sha256: string; changed?: string } | { error: Error }> {
  const now = await hashFile(path).catch((error: Error) => ({ error }));
  if ('error' in now) return now;
  return recorded && now.sha256 !== recorded
    ? { sha256: now.sha256, changed: `sha256 ${recorded.slice(0, 12)} then, ${now.sha256.slice(0, 12)} now` }
    : { sha256: now.sha256 };
}
