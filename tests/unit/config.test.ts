import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { duckdbMemoryLimit, duckdbThreads } from '../../activities/duckdb';
import { rowsPerBucket } from '../../activities/features';
import { connectionOptions, loadConfig } from '../../worker/config';
import { tempDir } from '../helpers';

describe('configuration from the environment', () => {
  it('defaults to the local dev server and the state folder in the clone', () => {
    const config = loadConfig({});
    expect(config.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'segflow' });
    expect(config.store.storeDir).toMatch(/\.segflow\/store$/);
    expect(connectionOptions(config)).toEqual({ address: '127.0.0.1:7233' });
  });

  it('connects to a cluster with mTLS files, or with an API key over TLS', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'client.pem'), 'CERT');
    await writeFile(join(dir, 'client.key'), 'KEY');
    await writeFile(join(dir, 'ca.pem'), 'CA');
    const mtls = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.example.internal:7233',
      TEMPORAL_NAMESPACE: 'telecom',
      TEMPORAL_TLS_CERT: join(dir, 'client.pem'),
      TEMPORAL_TLS_KEY: join(dir, 'client.key'),
      TEMPORAL_TLS_CA: join(dir, 'ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal',
    });
    const options = connectionOptions(mtls);
    expect(options.address).toBe('temporal.example.internal:7233');
    expect(options.tls).toEqual({
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
      serverRootCACertificate: Buffer.from('CA'),
      serverNameOverride: 'temporal',
    });
    expect(mtls.temporal.namespace).toBe('telecom');
    expect(connectionOptions(loadConfig({ TEMPORAL_API_KEY: 'secret' }))).toMatchObject({
      apiKey: 'secret',
      tls: true,
    });
  });

  it('caps DuckDB memory per database, 6GB unless SEGFLOW_DUCKDB_MEMORY_LIMIT says otherwise', () => {
    expect(duckdbMemoryLimit({})).toBe('6GB');
    expect(duckdbMemoryLimit({ SEGFLOW_DUCKDB_MEMORY_LIMIT: '800MB' })).toBe('800MB');
    expect(() => duckdbMemoryLimit({ SEGFLOW_DUCKDB_MEMORY_LIMIT: "6GB'; DROP TABLE usage; --" })).toThrow(
      /must look like 6GB/,
    );
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
