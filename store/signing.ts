import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../domain/errors';
import { sha256 } from './hashing';

/**
 * Ed25519 signatures over audit entries and snapshot manifests. The private key is read from a
 * file named by SEGFLOW_SIGNING_KEY on the worker (and by `snapshots retire`); it lives in
 * memory only, never in a payload, log or manifest. An auditor checks with the public key alone.
 */

/** Beside manifest.json in every snapshot published with a signing key: base64 Ed25519 over its bytes. */
export const MANIFEST_SIGNATURE_FILE = 'manifest.sig';

/** Beside artifact.json in every stage-cache artifact stored with a signing key (activities/artifact-store.ts). */
export const ARTIFACT_SIGNATURE_FILE = 'artifact.sig';

/** A private key and the short fingerprint of its public half, recorded beside each signature. */
export interface Signer {
  privateKey: KeyObject;
  keyId: string;
}

/** Reads an Ed25519 private key (PEM, e.g. from `openssl genpkey -algorithm ed25519`). */
export function loadSigner(path: string): Signer {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(path));
  } catch (error) {
    throw new UsageError(`SEGFLOW_SIGNING_KEY: cannot read a private key from ${path}: ${(error as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new UsageError(`SEGFLOW_SIGNING_KEY: ${path} holds a ${privateKey.asymmetricKeyType} key, not Ed25519`);
  return signerOf(privateKey);
}

export function signerOf(privateKey: KeyObject): Signer {
  return { privateKey, keyId: keyIdOf(createPublicKey(privateKey)) };
}

/** Reads an Ed25519 public key (PEM, e.g. from `openssl pkey -pubout`). */
export function loadPublicKey(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(path));
  } catch (error) {
    throw new UsageError(`--public-key: cannot read a public key from ${path}: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new UsageError(`--public-key: ${path} holds a ${key.asymmetricKeyType} key, not Ed25519`);
  return key;
}

/** First 16 hex digits of the sha256 of the public key (DER): names the key without revealing anything. */
export function keyIdOf(publicKey: KeyObject): string {
  return sha256(publicKey.export({ type: 'spki', format: 'der' }).toString('base64')).slice(0, 16);
}

export function signText(signer: Signer, text: string): string {
  return sign(null, Buffer.from(text), signer.privateKey).toString('base64');
}

export function verifyText(publicKey: KeyObject, text: string | Buffer, signature: string): boolean {
  try {
    return verify(
      null,
      typeof text === 'string' ? Buffer.from(text) : text,
      publicKey,
      Buffer.from(signature, 'base64'),
    );
  } catch {
    return false;
  }
}

/** Signs `dir`/manifest.json into `dir`/manifest.sig. */
export async function signManifest(signer: Signer, dir: string): Promise<void> {
  await signFileInto(signer, join(dir, 'manifest.json'), join(dir, MANIFEST_SIGNATURE_FILE));
}

/** Writes `signatureFile`: `<keyId> <base64 Ed25519 signature of the bytes of file>`. */
export async function signFileInto(signer: Signer, file: string, signatureFile: string): Promise<void> {
  const signature = sign(null, await readFile(file), signer.privateKey).toString('base64');
  await writeFile(signatureFile, `${signer.keyId} ${signature}\n`);
}

/**
 * Whether `signatureFile` (as signFileInto writes it) holds a signature of `file` by `publicKey`'s
 * private half: `valid`, `missing` (no such file), or `invalid` with the key id it names (another
 * key's, or the file rewritten after signing).
 */
export async function checkFileSignature(
  publicKey: KeyObject,
  file: string,
  signatureFile: string,
): Promise<{ status: 'valid' | 'missing' } | { status: 'invalid'; keyId: string }> {
  const text = await readFile(signatureFile, 'utf8').catch(() => undefined);
  if (text === undefined) return { status: 'missing' };
  const [keyId = '', value = ''] = text.trim().split(' ');
  const bytes = await readFile(file).catch(() => undefined);
  return keyId === keyIdOf(publicKey) && bytes && value && verifyText(publicKey, bytes, value)
    ? { status: 'valid' }
    : { status: 'invalid', keyId: keyId || '?' };
}
