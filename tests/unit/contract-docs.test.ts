import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { USAGE_CONTRACT } from '../../data/contract';
import { REPO_ROOT } from '../../worker/config';

/** The README's contract table: its rows by column name, as [type, required, rule]. */
function readmeContractRows(): Map<string, [string, string, string]> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const rows = new Map<string, [string, string, string]>();
  for (const line of readme.split('\n')) {
    const cells = /^\| `([a-z_]+)` \| ([A-Z]+) \| (yes|no) \| (.*) \|$/.exec(line);
    if (cells) rows.set(cells[1] as string, [cells[2] as string, cells[3] as string, cells[4] as string]);
  }
  return rows;
}

describe("the README's input contract", () => {
  it('lists every column of data/contract.ts with its type, whether it is required, and its range', () => {
    const rows = readmeContractRows();
    expect([...rows.keys()].sort()).toEqual(USAGE_CONTRACT.map((column) => column.name).sort());
    for (const column of USAGE_CONTRACT) {
      const [type, required, rule] = rows.get(column.name) ?? [];
      expect({ column: column.name, type, required }).toEqual({
        column: column.name,
        type: column.type,
        required: column.required ? 'yes' : 'no',
      });
      if (column.min !== undefined && column.max !== undefined)
        expect(rule, column.name).toContain(
          `${column.min.toLocaleString('en-US')} .. ${column.max.toLocaleString('en-US')}`,
        );
      if (column.maxLength !== undefined) expect(rule, column.name).toContain(`at most ${column.maxLength} characters`);
    }
  });
});
