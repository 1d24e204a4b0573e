import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { withQueryProgress, type CheckpointDetails } from '../../activities/context';
import { withConnection } from '../../activities/duckdb';

describe('progress inside a long DuckDB statement', () => {
  it('heartbeats rows done of rows total while the statement runs', async () => {
    const environment = new MockActivityEnvironment();
    const heartbeats: CheckpointDetails[] = [];
    environment.on('heartbeat', (details: CheckpointDetails) => heartbeats.push(details));
    await environment.run(() =>
      withConnection(':memory:', async (conn) => {
        await conn.run('CREATE TABLE usage AS SELECT i, i % 1000003 AS g FROM range(6000000) t(i)');
        await withQueryProgress(
          conn,
          () => ({ step: 'features: 02_aggregates.sql', done: 1, total: 5 }),
          () => conn.run('CREATE TABLE agg AS SELECT g, sum(i), stddev(i) FROM usage GROUP BY g'),
          100,
        );
      }),
    );
    expect(heartbeats.length).toBeGreaterThan(0);
    for (const details of heartbeats) {
      expect(details).toMatchObject({ stage: 'features: 02_aggregates.sql', done: 1, total: 5 });
      expect(details.rowsTotal).toBeGreaterThanOrEqual(6_000_000);
      expect(details.rowsDone).toBeLessThanOrEqual(details.rowsTotal as number);
    }
  });

  it('stops the statement when the activity is cancelled, and reports the cancellation', async () => {
    const environment = new MockActivityEnvironment();
    const started = performance.now();
    const running = environment.run(() =>
      withConnection(':memory:', (conn) =>
        withQueryProgress(
          conn,
          () => ({ step: 'features: 02_aggregates.sql' }),
          // minutes of work if nothing stops it
          () => conn.run('SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3'),
          100,
        ),
      ),
    );
    await new Promise((resolveWait) => setTimeout(resolveWait, 500));
    environment.cancel();
    await expect(running).rejects.toMatchObject({ name: 'CancelledFailure' });
    expect(performance.now() - started).toBeLessThan(20_000);
  }, 60_000);
});
