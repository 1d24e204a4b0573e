/**
 * Writes domain/run-params.schema.json, the run parameters' JSON Schema, from the zod schema in
 * domain/params.ts. Run after changing a parameter: `npx tsx scripts/write-params-schema.ts`;
 * tests/unit/cli-format.test.ts fails while the two differ. The command line's help reads the
 * file: loading zod and the schema took ~0.2 s of every command's start.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format } from 'prettier';
import { RUN_PARAMS_SCHEMA_FILE } from '../cli/params-help';
import { runParamsJsonSchema } from '../domain/params';

const path = fileURLToPath(RUN_PARAMS_SCHEMA_FILE);
writeFileSync(path, await format(JSON.stringify(runParamsJsonSchema()), { filepath: path }));
console.log(`wrote ${path}`);
