import { describe, expect, it } from 'vitest';
import { closestName } from '../../domain/closest-name';

describe('closestName', () => {
  it('finds the name a mistyped one was meant to be, case aside', () => {
    expect(closestName('treedepth', ['treeDepth', 'k'])).toBe('treeDepth');
    expect(closestName('subscriber', ['subscriber_id', 'contact_date'])).toBe('subscriber_id');
  });

  it('reads Chinese headers by their characters: one wrong of four is a typo, two unrelated words are not', () => {
    const headers = ['用户号码', '联系日期', '办理产品', '渠道', '办理结果'];
    expect(closestName('办理产口', headers)).toBe('办理产品');
    // a two-character header is not a typo of every other two-character one
    expect(closestName('日期', headers)).toBeUndefined();
    expect(closestName('渠到', headers)).toBe('渠道');
  });

  it('counts a character outside the BMP as one edit, not two', () => {
    // two edits in four characters; as UTF-16 code units, four in six
    expect(closestName('𠮷𠮷田田', ['吉吉田田'])).toBe('吉吉田田');
  });
});
