import { describe, expect, it } from 'vitest';
import { InputMappingSchema, parseMapping } from '../../domain/mapping';

const problems = (mapping: unknown) => {
  const parsed = InputMappingSchema.safeParse(mapping);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('a mapping file that is not what it should be', () => {
  it("refuses a __proto__ key, which JSON.parse's copy would drop unchecked", () => {
    expect(parseMapping('{"columns": {"__proto__": {"month": "x"}}}')).toEqual({
      ok: false,
      problems: ['a key named "__proto__" is not a field or a column'],
    });
  });

  it('says a file is not JSON without quoting its text (a file named by mistake may be a secret)', () => {
    const parsed = parseMapping('hunter2 is secret');
    expect(parsed).toMatchObject({ ok: false, problems: [expect.stringMatching(/^not valid JSON: /)] });
    expect(JSON.stringify(parsed)).not.toContain('hunter2');
  });
});

describe('mapping file, version 2', () => {
  it('still reads a version 1 mapping as it was (no user features)', () => {
    const parsed = InputMappingSchema.parse({ format: 'snapshot', columns: { subscriber_id: 'customerID' } });
    expect(parsed).toMatchObject({ columns: { subscriber_id: 'customerID' }, maxCategories: 50 });
    expect(parsed.features).toBeUndefined();
  });

  it('takes sums with a factor, row-number ids and typed features', () => {
    expect(
      problems({
        format: 'snapshot',
        columns: {
          subscriber_id: { rowNumber: true },
          voice_minutes: { sum: ['Day Secs', 'Night Secs'], scale: 1 / 60 },
        },
        features: { Contract: 'categorical', 'CustServ Calls': 'numeric', Phone: 'skip' },
      }),
    ).toEqual([]);
  });

  it('refuses a monthFormat without a % code, which would read no month', () => {
    expect(problems({ monthFormat: 'YYYY/MM' })).toEqual([
      'monthFormat: "YYYY/MM" has no % code: write DuckDB\'s format codes, e.g. "%Y/%m" for 2026/04, "%Y%m" for 202604, "%b %Y" for Apr 2026, or "excel" for Excel\'s day numbers',
    ]);
    expect(problems({ monthFormat: '%Y/%m' })).toEqual([]);
    expect(problems({ monthFormat: 'excel' })).toEqual([]);
  });

  it('names a misspelt field of the mapping with the closest one', () => {
    expect(parseMapping(JSON.stringify({ decimalSeperator: ',', columns: {} }))).toEqual({
      ok: false,
      problems: [
        '(mapping): unknown field "decimalSeperator" (did you mean decimalSeparator?); docs/own-data.md lists the fields',
      ],
    });
    expect(parseMapping(JSON.stringify({ colour: 'blue' }))).toMatchObject({
      problems: ['(mapping): unknown field "colour"; docs/own-data.md lists the fields'],
    });
  });

  it('refuses row-number ids outside snapshots or for other columns, and unknown feature types', () => {
    expect(problems({ columns: { subscriber_id: { rowNumber: true } } })).toEqual([
      'columns.subscriber_id: rowNumber ids need format "snapshot" (monthly rows of one subscriber need a real id)',
    ]);
    expect(problems({ format: 'snapshot', columns: { spend: { rowNumber: true } } })).toEqual([
      'columns.spend: rowNumber only makes subscriber ids',
    ]);
    expect(problems({ features: { Contract: 'text' } })).toHaveLength(1);
    expect(problems({ columns: { voice_minutes: { sum: [] } } })).toHaveLength(1);
  });

  it('counts tenure_months in months since a date only: monthsSince makes no other column', () => {
    expect(
      problems({ columns: { tenure_months: { monthsSince: '入网时间' } }, features: { 入网时间: 'date' } }),
    ).toEqual([]);
    expect(problems({ columns: { spend: { monthsSince: 'activation_date' } } })).toEqual([
      "columns.spend: monthsSince only makes tenure_months (months from a date to the row's month)",
    ]);
  });

  it('takes "." or "," as the decimal separator, and leaves a mapping without one as it was', () => {
    expect(problems({ decimalSeparator: ',' })).toEqual([]);
    expect(problems({ decimalSeparator: '.' })).toEqual([]);
    expect(problems({ decimalSeparator: ';' })).toEqual(['decimalSeparator: decimalSeparator takes "." or ","']);
    expect(InputMappingSchema.parse({})).not.toHaveProperty('decimalSeparator');
  });

  it('says a column mapped the wrong way round (your column first) is, and how to write it', () => {
    expect(problems({ columns: { 'ARPU(元)': 'spend', spnd: 'x' } })).toEqual([
      'columns.ARPU(元): not a column of the usage contract, which "spend" is: columns map a contract column to yours, "spend": "ARPU(元)"',
      'columns.spnd: not a column of the usage contract (listed in the README, "Running it on your own data"): did you mean spend?',
    ]);
  });

  it('takes an encoding the WHATWG Encoding standard names, and leaves a mapping without one as it was', () => {
    for (const encoding of ['gb18030', 'GBK', 'big5', 'shift_jis', 'utf-16le', 'utf-8'])
      expect(problems({ encoding }), encoding).toEqual([]);
    expect(problems({ encoding: 'klingon' })).toEqual([
      'encoding: not an encoding segflow knows; e.g. "gb18030", "big5", "shift_jis", "utf-16le"',
    ]);
    expect(InputMappingSchema.parse({})).not.toHaveProperty('encoding');
  });

  it('refuses a text number written with thousands points when the decimal separator is the comma', () => {
    const values = { spend: { 'n/a': '1.000', free: '0.500', half: '0,5', low: '2.5' }, tenure_months: { long: 2 } };
    expect(problems({ decimalSeparator: ',', values })).toEqual([
      'values.spend.n/a: "1.000" reads as 1 (a point is a number\'s decimal mark in the mapping), not as 1000 with decimalSeparator ",": write the number without quotes (1000 or 1)',
    ]);
    // with the point as the file's decimal mark "1.000" is one, as JSON reads it
    expect(problems({ values })).toEqual([]);
    // a text column's value is text
    expect(problems({ decimalSeparator: ',', values: { plan: { old: '1.000' } } })).toEqual([]);
  });

  it('suggests the contract column a mistyped one was meant to be', () => {
    // as the command line prints them (the reason inside zod's "Invalid key in record")
    const printed = (mapping: unknown) => {
      const parsed = parseMapping(JSON.stringify(mapping));
      return parsed.ok ? [] : parsed.problems;
    };
    expect(printed({ columns: { subscriberid: 'msisdn' } })).toEqual([
      'columns.subscriberid: not a column of the usage contract (listed in the README, "Running it on your own data"): did you mean subscriber_id?',
    ]);
    expect(printed({ columns: { handset: 'x' } })).toEqual([
      'columns.handset: not a column of the usage contract (listed in the README, "Running it on your own data")',
    ]);
  });
});
