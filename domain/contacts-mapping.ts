import { z } from 'zod';
import { CONTACTS_CONTRACT } from '../data/contacts-contract';
import { RECOMMENDED_PRODUCTS } from './actions';
import { CONTACT_CHANNELS, CONTACT_OUTCOMES } from './campaigns';
import { closestName } from './closest-name';
import { isKnownEncoding, UNKNOWN_ENCODING } from './encoding';
import { parseJsonAgainst } from './schema-problems';

const CONTRACT_NAMES: readonly string[] = CONTACTS_CONTRACT.map((column) => column.name);

function notAContractColumn(name: string): string {
  const close = closestName(name, [...CONTRACT_NAMES]);
  return `not a column of the contact log (${CONTRACT_NAMES.join(', ')}; docs/campaigns.md, "The contact log")${close ? `: did you mean ${close}?` : ''}`;
}

/** The products a dispatch list recommends (its recommended_product), onto which a mapping's `actions` map the log's words. */
const ACTIONS: readonly string[] = Object.values(RECOMMENDED_PRODUCTS);

/** Names as an error lists them: "SMS", "app push". */
function quotedList(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}

/**
 * How a contact log written by another system (a CRM's export) maps onto the contact-log
 * contract (data/contacts-contract.ts): which of its columns is which, how it writes a day, which
 * of its words are which outcome, channel and action, and its encoding. Given as a JSON file
 * (`--param contactsMapping=path/to/contacts-mapping.json`); docs/campaigns.md explains each field.
 */
const CONTACTS_MAPPING_FIELDS = {
  /** contract column -> the log's header for it; a contract column left out is found by its own name. */
  columns: z
    .record(z.string(), z.string().min(1))
    .superRefine((columns, context) => {
      for (const [name, header] of Object.entries(columns)) {
        if (CONTRACT_NAMES.includes(name)) continue;
        // { "用户号码": "subscriber_id" }: the log's header first, the wrong way round
        const reversed = CONTRACT_NAMES.includes(header);
        context.addIssue({
          code: 'custom',
          path: [name],
          message: reversed
            ? `not a column of the contact log, which "${header}" is: columns map a contract column to the log's header, "${header}": "${name}"`
            : notAContractColumn(name),
        });
      }
    })
    .default({}),
  /**
   * How the log writes contact_date, in DuckDB's strptime codes: "%d/%m/%Y" for 05/06/2026 as
   * 5 June. Given, a day is read with it alone; left out, as without a mapping (the year first).
   */
  dateFormat: z
    .string()
    // "dd/mm/yyyy" reads nothing: strptime matches its letters as they are, and every row is quarantined
    .refine((format) => format.includes('%'), {
      error: (issue) =>
        `${JSON.stringify(issue.input)} has no % code: write DuckDB's format codes, e.g. "%d/%m/%Y" for 05/06/2026 as 5 June, "%m/%d/%Y" for it as 6 May, "%Y%m%d" for 20260605`,
    })
    .optional(),
  /** the log's outcome word -> segflow's ('成功办理': 'accepted'); compared case and spacing aside, as segflow's own words are. */
  outcomes: z
    .record(z.string().min(1), z.enum(CONTACT_OUTCOMES, { error: `takes ${CONTACT_OUTCOMES.join(', ')}` }))
    .default({}),
  /**
   * the log's channel word -> segflow's ('外呼': 'outbound call'), compared as outcomes are; a
   * combination ('外呼+APP推送') is mapped to one channel ('outbound call and app push').
   */
  channels: z
    .record(z.string().min(1), z.enum(CONTACT_CHANNELS, { error: `takes one of ${quotedList(CONTACT_CHANNELS)}` }))
    .default({}),
  /** the log's action word -> the product a dispatch list recommends ('宽带融合': 'converged mobile and broadband bundle'). */
  actions: z.record(z.string().min(1), z.enum(ACTIONS, { error: `takes one of ${quotedList(ACTIONS)}` })).default({}),
  /** The CSV log's character encoding when not UTF-8 (as --param contactsEncoding; a WHATWG label, e.g. "gb18030"). */
  encoding: z.string().refine(isKnownEncoding, { error: UNKNOWN_ENCODING }).optional(),
};

export const ContactsMappingSchema = z
  .object(CONTACTS_MAPPING_FIELDS)
  .strict()
  .superRefine((mapping, context) => {
    // two contract columns read from one header: one of them is surely not what was meant (two
    // words that read alike are refused as the log's words are folded, in DuckDB: contact-log.ts)
    const byHeader = new Map<string, string>();
    for (const [name, header] of Object.entries(mapping.columns)) {
      const other = byHeader.get(header);
      if (other !== undefined)
        context.addIssue({
          code: 'custom',
          path: ['columns', name],
          message: `"${header}" is ${other} already: each contract column is read from a header of its own`,
        });
      byHeader.set(header, name);
    }
  });

export type ContactsMapping = z.output<typeof ContactsMappingSchema>;

/** A contact-log mapping file's text checked against the schema: the mapping, or every problem, one per line. */
export function parseContactsMapping(
  text: string,
): { ok: true; mapping: ContactsMapping } | { ok: false; problems: string[] } {
  // a misspelt field ("dateFromat") gets the closest one
  const parsed = parseJsonAgainst(text, ContactsMappingSchema, (key) => {
    const close = closestName(key, Object.keys(CONTACTS_MAPPING_FIELDS));
    return `(mapping): unknown field "${key}"${close ? ` (did you mean ${close}?)` : ''}; docs/campaigns.md lists the fields`;
  });
  return parsed.ok ? { ok: true, mapping: parsed.value } : parsed;
}
