import { describe, expect, it } from 'vitest';
import { AUDIT_MONTH as MONTH, publishFake } from '../audit-store';
import { segflow, storeIn, tempDir } from '../helpers';

/** What `snapshots diff` says when its two references name one snapshot. */
describe('snapshots diff of one snapshot with itself', () => {
  it('says so and exits 2 instead of printing a diff of zeros', async () => {
    const home = await tempDir();
    for (const version of [1, 2]) await publishFake(storeIn(home), version);
    const same = await segflow(['snapshots', 'diff', MONTH, `${MONTH}/v2`], { SEGFLOW_HOME: home });
    expect(same).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `${MONTH} and ${MONTH}/v2 are the same snapshot, ${MONTH}/v2 (a month alone names its latest): name two versions`,
      ),
    });
    const twice = await segflow(['snapshots', 'diff', `${MONTH}/v1`, `${MONTH}/v1`], { SEGFLOW_HOME: home });
    expect(twice).toMatchObject({
      code: 2,
      output: expect.stringContaining(`${MONTH}/v1 is named twice: name two versions`),
    });
  });
});

describe('snapshots promote', () => {
  it("says next month's run does not take the promoted version's parameters", async () => {
    const home = await tempDir();
    await publishFake(storeIn(home), 1);
    await publishFake(storeIn(home), 2, undefined, 'run-2', {
      experiment: true,
      // a month's own contact log and list are not carried on to next month's run
      params: {
        month: MONTH,
        input: '/data',
        k: 5,
        treeDepth: 4,
        contacts: '/data/contacts.csv',
        dispatched: '2026-05/v1',
      },
    });
    const promoted = await segflow(['snapshots', 'promote', `${MONTH}/v2`, '--reason', 'k=5 adopted'], {
      SEGFLOW_HOME: home,
    });
    expect(promoted).toMatchObject({
      code: 0,
      output: expect.stringContaining(
        "note: next month's run does not take this version's parameters from it: give them again (--param k=5 --param treeDepth=4), and for a schedule, create it with them\nnote: this version also read its month's own contacts=\"/data/contacts.csv\", dispatched=\"2026-05/v1\": give next month's run next month's (a schedule, the path each month's file is written to)",
      ),
    });
  });
});
