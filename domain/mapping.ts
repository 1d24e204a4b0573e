import { z } from 'zod';
import { USAGE_CONTRACT } from '../data/contract';

const CONTRACT_NAMES = new Set(USAGE_CONTRACT.map((column) => column.name));
const contractName = z
  .string()
  .refine((name) => CONTRACT_NAMES.has(name), { message: 'not a column of the usage contract (data/contract.ts)' });

/**
 * How a user's own files map onto the usage contract: which of their columns is which, how
 * their values are encoded, and whether the data is monthly usage or one snapshot row per
 * subscriber. Given as a JSON file (`--param mapping=path/to/mapping.json`).
 */
export const InputMappingSchema = z
  .object({
    /** "long": a row per subscriber per month; "snapshot": one row per subscriber for the run month. */
    format: z.enum(['long', 'snapshot']).default('long'),
    /** contract column -> the user's column name. Unmapped contract columns are looked up by their own name. */
    columns: z.record(contractName, z.string().min(1)).default({}),
    /** contract column -> { the user's value: segflow's value }, e.g. churn_label: { "Yes": true, "No": false }. */
    values: z
      .record(contractName, z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])))
      .default({}),
    /** strptime format of text months, e.g. "%Y%m" or "%b %Y" (DuckDB's format codes). */
    monthFormat: z.string().min(2).optional(),
  })
  .strict();

export type InputMapping = z.output<typeof InputMappingSchema>;

export const IDENTITY_MAPPING: InputMapping = { format: 'long', columns: {}, values: {} };
