import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { duckdbMemoryLimit, duckdbThreads, shareOfMemoryLimit } from '../../activities/duckdb';
import { rowsPerBucket } from '../../activities/features';
import { connectionOptions, loadConfig } from '../../worker/config';
import { tempDir } from '../helpers';

describe('configuration from the environment', () => {
  it('defaults to the local dev server and the state folder in the clone', () => {
    const config = loadConfig({});
    expect(config.temporal).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'segflow',
      profile: {},
    });
    expect(config.store.storeDir).toMatch(/\.segflow\/store$/);
    expect(connectionOptions(config)).toEqual({ address: '127.0.0.1:7233' });
  });

  it('connects to a cluster with the standard TEMPORAL_TLS_* files, or with an API key over TLS', async () => {
    const dir = await tlsFiles();
    const mtls = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.example.internal:7233',
      TEMPORAL_NAMESPACE: 'telecom',
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'client.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'client.key'),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal',
    });
    expect(connectionOptions(mtls)).toEqual({
      address: 'temporal.example.internal:7233',
      tls: {
        clientCertPair: { crt: bytes('CERT'), key: bytes('KEY') },
        serverRootCACertificate: bytes('CA'),
        serverNameOverride: 'temporal',
      },
    });
    expect(mtls.temporal.namespace).toBe('telecom');
    expect(connectionOptions(loadConfig({ TEMPORAL_API_KEY: 'secret' }))).toEqual({
      address: '127.0.0.1:7233',
      apiKey: 'secret',
      tls: true,
    });
  });

  it('still reads the deprecated TEMPORAL_TLS_CERT, _KEY and _CA with a warning; the standard names win', async () => {
    const dir = await tlsFiles();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const options = connectionOptions(
        loadConfig({
          TEMPORAL_TLS_CERT: join(dir, 'client.pem'),
          TEMPORAL_TLS_KEY: join(dir, 'client.key'),
          TEMPORAL_TLS_CA: join(dir, 'old-ca.pem'),
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'ca.pem'),
        }),
      );
      expect(options.tls).toEqual({
        clientCertPair: { crt: bytes('CERT'), key: bytes('KEY') },
        serverRootCACertificate: bytes('CA'),
      });
      expect(warn.mock.calls.map(([message]) => String(message))).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^TEMPORAL_TLS_CERT is deprecated.*TEMPORAL_TLS_CLIENT_CERT_PATH/),
        ]),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('reads a profile from the temporal CLI config file, and the environment overrides it', async () => {
    const dir = await tlsFiles();
    const file = join(dir, 'temporal.toml');
    await writeFile(
      file,
      [
        '[profile.default]',
        'address = "localhost:7233"',
        '[profile.prod]',
        'address = "telecom.a1b2c.tmprl.cloud:7233"',
        'namespace = "telecom.a1b2c"',
        'api_key = "from-file"',
        '[profile.prod.grpc_meta]',
        'x-team = "churn"',
      ].join('\n'),
    );
    const prod = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
    expect(prod.temporal).toMatchObject({ address: 'telecom.a1b2c.tmprl.cloud:7233', namespace: 'telecom.a1b2c' });
    expect(connectionOptions(prod)).toEqual({
      address: 'telecom.a1b2c.tmprl.cloud:7233',
      apiKey: 'from-file',
      tls: true,
      metadata: { 'x-team': 'churn' },
    });
    const overridden = loadConfig({
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'staging',
    });
    expect(overridden.temporal.namespace).toBe('staging');
    expect(loadConfig({ TEMPORAL_CONFIG_FILE: file }).temporal.address).toBe('localhost:7233');
    expect(() => loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'missing' })).toThrow(
      /'missing' not found/,
    );
  });

  it('caps DuckDB memory per database, 6GB unless SEGFLOW_DUCKDB_MEMORY_LIMIT says otherwise', () => {
    expect(duckdbMemoryLimit({})).toBe('6GB');
    expect(duckdbMemoryLimit({ SEGFLOW_DUCKDB_MEMORY_LIMIT: '800MB' })).toBe('800MB');
    expect(() => duckdbMemoryLimit({ SEGFLOW_DUCKDB_MEMORY_LIMIT: "6GB'; DROP TABLE usage; --" })).toThrow(
      /must look like 6GB/,
    );
  });

  it('gives a share of the DuckDB memory cap in its own unit', () => {
    expect(shareOfMemoryLimit(1 / 2, '6GB')).toBe('3GB');
    expect(shareOfMemoryLimit(3 / 4, '6GB')).toBe('4.5GB');
    expect(shareOfMemoryLimit(1 / 3, '800MiB')).toBe('266.667MiB');
    expect(() => shareOfMemoryLimit(1 / 2, 'lots')).toThrow(/not a memory limit/);
  });

  it('leaves DuckDB one thread per core unless SEGFLOW_DUCKDB_THREADS says otherwise', () => {
    expect(duckdbThreads({})).toBeUndefined();
    expect(duckdbThreads({ SEGFLOW_DUCKDB_THREADS: '1' })).toBe('1');
    expect(() => duckdbThreads({ SEGFLOW_DUCKDB_THREADS: '0' })).toThrow(/whole number/);
    expect(() => duckdbThreads({ SEGFLOW_DUCKDB_THREADS: 'all' })).toThrow(/whole number/);
  });

  it('sizes the feature aggregation passes from the DuckDB memory cap', () => {
    expect(rowsPerBucket('6GB')).toBe(Math.floor((6 * 2 ** 30) / 800));
    expect(rowsPerBucket('800MB')).toBe(Math.floor((800 * 2 ** 20) / 800));
    expect(rowsPerBucket('1MB')).toBe(100_000); // never absurdly small
  });
});

async function tlsFiles(): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, 'client.pem'), 'CERT');
  await writeFile(join(dir, 'client.key'), 'KEY');
  await writeFile(join(dir, 'ca.pem'), 'CA');
  await writeFile(join(dir, 'old-ca.pem'), 'OLD CA');
  return dir;
}

/** envconfig reads certificate files as plain Uint8Arrays. */
function bytes(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text));
}
