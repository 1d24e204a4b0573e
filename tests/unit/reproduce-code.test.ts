import { describe, expect, it } from 'vitest';
import { reproduceText } from '../../cli/commands/snapshots';
import { compareCode, type CodeVersion } from '../../activities/code-version';
import type { ReproduceReport } from '../../pipelines/reproduce';

const COMMIT = 'c0d87d6aa1b2c3d4e5f60718293a4b5c6d7e8f90';
const [LOCAL, CLEAN] = [`cc559baf${'1'.repeat(56)}`, `5ffb82ab${'2'.repeat(56)}`];
const code = (commit: string, stageCode?: string): CodeVersion => ({
  segflow: '0.1.0',
  commit,
  node: 'v20.0.0',
  dependencies: {},
  ...(stageCode ? { stageCode } : {}),
});

/** A reproduction that differs in churn_scores.parquet and the churn metrics, its published files intact. */
function report(then: CodeVersion, now: CodeVersion, more: Partial<ReproduceReport> = {}): ReproduceReport {
  return {
    ref: { month: '2026-10', version: 1 },
    changedInputs: [],
    changes: [],
    inputFolderNow: [],
    notes: [],
    previousSnapshotGone: false,
    monthBeforeGone: false,
    codeNow: now.commit,
    codeThen: then.commit,
    stageCodeNow: now.stageCode ?? '',
    stageCodeThen: then.stageCode ?? null,
    code: compareCode(then, now),
    files: [
      {
        file: 'subscribers.parquet',
        expected: 'a'.repeat(64),
        actual: 'a'.repeat(64),
        published: 'a'.repeat(64),
        identical: true,
      },
      {
        file: 'churn_scores.parquet',
        expected: 'b'.repeat(64),
        actual: 'c'.repeat(64),
        published: 'b'.repeat(64),
        identical: false,
      },
    ],
    manifestDifferences: ['metrics.churnHoldout'],
    identical: false,
    reused: [],
    ...more,
  };
}

describe('reproduce and the code that published a snapshot', () => {
  it('compares commit, dirty mark and stage code', () => {
    expect(compareCode(code(COMMIT, CLEAN), code(COMMIT, CLEAN))).toEqual({
      same: true,
      differs: false,
      why: [],
      stageCodeRecorded: true,
    });
    // an older manifest: no stage code to compare, the commit alone
    expect(compareCode(code(COMMIT), code(COMMIT, CLEAN))).toMatchObject({ same: true, stageCodeRecorded: false });
    expect(compareCode(code(`${COMMIT}-dirty`, LOCAL), code(COMMIT, CLEAN))).toEqual({
      same: false,
      differs: true,
      why: [
        "the load and feature stages' code differs (stage code then cc559baf1111…, now 5ffb82ab2222…)",
        'the code that published it had uncommitted changes (-dirty)',
      ],
      stageCodeRecorded: true,
    });
    // the same text on both sides, dirty: not known to be the same code
    expect(compareCode(code(`${COMMIT}-dirty`, CLEAN), code(`${COMMIT}-dirty`, CLEAN))).toMatchObject({
      same: false,
      differs: false,
    });
    expect(compareCode(code('unknown'), code(COMMIT)).why).toEqual([
      'the code that published it was not a git checkout (commit unknown)',
    ]);
    expect(compareCode(code('1'.repeat(40)), code(COMMIT)).why).toEqual([
      `it was published at commit ${'1'.repeat(40)}, this checkout is at ${COMMIT}`,
    ]);
  });

  it('says first and plainly that the code differed, not that the manifest may have been edited (the auditor: an untracked SQL file)', () => {
    const lines = reproduceText(report(code(`${COMMIT}-dirty`, LOCAL), code(COMMIT, CLEAN))).split('\n');
    expect(lines[0]).toBe(`2026-10/v1: DIFFERENT (code then ${COMMIT}-dirty, now ${COMMIT})`);
    expect(lines[1]).toBe(
      "the code that published it is not the code reproducing it: the load and feature stages' code differs (stage code then cc559baf1111…, now 5ffb82ab2222…); the code that published it had uncommitted changes (-dirty). A recomputation by other code differs wherever the code changed what it writes. Its published files still match their manifest. It cannot be reproduced as it was made from a commit.",
    );
    const text = lines.join('\n');
    expect(text).toContain(
      "the manifest records otherwise than the recomputation: metrics.churnHoldout (other code published it, see above, or edited since it was published? 'segflow audit verify' checks the manifest's hash)",
    );
    expect(text).not.toMatch(/\(edited since it was published\?/);
  });

  it('says so when the stage code differs under the same commit text', () => {
    const text = reproduceText(report(code(COMMIT, LOCAL), code(COMMIT, CLEAN)));
    expect(text.split('\n')[1]).toMatch(
      /^the code that published it is not the code reproducing it: the load and feature stages' code differs \(stage code then cc559baf1111…, now 5ffb82ab2222…\)\./,
    );
  });

  it('says when uncommitted changes make the code unknown, on either side', () => {
    const text = reproduceText(report(code(COMMIT, CLEAN), code(`${COMMIT}-dirty`, CLEAN)));
    expect(text.split('\n')[1]).toBe(
      `the code that published it may not be the code reproducing it: the code reproducing it has uncommitted changes (-dirty). Uncommitted changes are not recorded: a recomputation differs wherever they changed what it writes. Its published files still match their manifest. To reproduce it as it was made, run this command from a clean checkout of that commit (git checkout ${COMMIT.slice(0, 12)}) on the same store.`,
    );
    expect(text).toContain(
      '(uncommitted code published or reproduced it, see above, or edited since it was published?',
    );
  });

  it('keeps the "edited since?" hint for the same code, and for an older manifest says what its commit cannot show', () => {
    const same = reproduceText(report(code(COMMIT, CLEAN), code(COMMIT, CLEAN))).split('\n');
    expect(same[1]).toMatch(
      /^the manifest records otherwise than the recomputation: metrics.churnHoldout \(edited since it was published\? 'segflow audit verify'/,
    );
    const older = reproduceText(report(code(COMMIT), code(COMMIT, CLEAN)));
    expect(older).toContain(
      "(edited since it was published, or published by code its commit does not show (its manifest has no code.stageCode: it predates untracked code files marking a commit -dirty)? 'segflow audit verify' checks the manifest's hash)",
    );
    expect(older).not.toContain('the code that published it');
  });
});
