import { readFileSync } from 'node:fs';

/** The run parameters' JSON Schema, written from domain/params.ts by scripts/write-params-schema.ts. */
export const RUN_PARAMS_SCHEMA_FILE = new URL('../domain/run-params.schema.json', import.meta.url);

interface ParamSchema {
  type?: string;
  enum?: unknown[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

/** "integer 6..24", "number > 0 and < 0.9", "true or false", "boosted or tree": the range as the schema states it. */
function describeRange(schema: ParamSchema): string {
  if (schema.type === 'boolean') return 'true or false';
  if (schema.enum) return schema.enum.map(String).join(' or ');
  if (schema.type === 'string') return 'text';
  const type = schema.type === 'integer' ? 'integer' : 'number';
  const { minimum: min, maximum: max, exclusiveMinimum: gt, exclusiveMaximum: lt } = schema;
  // an integer schema's largest safe integer is no limit a reader needs to see: ">= 1000"
  const bounded = max !== undefined && max < Number.MAX_SAFE_INTEGER ? max : undefined;
  if (min !== undefined && bounded !== undefined) return `${type} ${min}..${bounded}`;
  if (min !== undefined && max !== undefined) return `${type} >= ${min}`;
  const bounds = [
    min !== undefined ? `>= ${min}` : gt !== undefined ? `> ${gt}` : '',
    max !== undefined ? `<= ${max}` : lt !== undefined ? `< ${lt}` : '',
  ].filter(Boolean);
  return bounds.length ? `${type} ${bounds.join(' and ')}` : type;
}

/**
 * The run parameters, each with its type, range, default and meaning, from the params schema's
 * JSON Schema (tests/unit/cli-format.test.ts fails when the file differs from the schema), so the
 * help cannot drift from what the run accepts.
 */
export function paramsHelp(): string {
  const { properties } = JSON.parse(readFileSync(RUN_PARAMS_SCHEMA_FILE, 'utf8')) as {
    properties: Record<string, ParamSchema>;
  };
  const rows = Object.entries(properties)
    .filter(([name]) => name !== 'month' && name !== 'input')
    .map(([name, schema]) => {
      const fallback = schema.default === undefined ? 'optional' : `default ${JSON.stringify(schema.default)}`;
      return `  ${name.padEnd(24)} ${describeRange(schema)}, ${fallback}\n  ${' '.repeat(24)} ${schema.description ?? ''}`;
    });
  return `\nRun parameters (--param name=value, repeatable; or --params file.json):\n${rows.join('\n')}`;
}
