import { describe, expect, it } from 'vitest';
import { tooLittleHistory } from '../../domain/training-history';

const params = { treeMinLeaf: 50, month: '2025-12' };

/** What a run that cannot train its churn models says to do (activities/churn.ts). */
describe('too little history to train', () => {
  it('a small extract with both outcomes: names treeMinLeaf and a value that trains, not the month before', () => {
    const message = tooLittleHistory({ train: 370, churners: 17 }, params);
    expect(message).toContain('need at least 500, 10 x treeMinLeaf 50, with 10 churners and 10 stayers');
    expect(message).toContain('--param treeMinLeaf=37');
    expect(message).not.toContain('month before');
  });

  it('no subscriber last month: asks whether the input holds that month', () => {
    expect(tooLittleHistory({ train: 0, churners: 0 }, params)).toMatch(
      /does the input hold the month before 2025-12\?$/,
    );
    // under ten subscribers no treeMinLeaf trains: none is offered
    expect(tooLittleHistory({ train: 9, churners: 4 }, params)).not.toContain('treeMinLeaf=');
  });

  it('too few churners: says what would give more, and the smaller leaf when the extract is small too', () => {
    const message = tooLittleHistory({ train: 370, churners: 7 }, params);
    expect(message).toContain('at least 10 churners and 10 stayers: an extract of more subscribers, or a labels file');
    expect(message).toContain('--param treeMinLeaf=37');
    expect(tooLittleHistory({ train: 2000, churners: 2000 }, { ...params, labels: '/data/labels.csv' })).toMatch(
      /; does \/data\/labels\.csv label the subscribers of the month before 2025-12, churned and stayed/,
    );
  });
});
