import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { SEGFLOW_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { REPO_ROOT } from '../worker/config';

/** Path of the Temporal CLI: TEMPORAL_CLI, PATH, or the project-local install (installing it if needed). */
export function temporalCliPath(): string {
  return execFileSync('bash', [join(REPO_ROOT, 'scripts', 'ensure-temporal.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** `--search-attribute Name=Type` flags that register segflow's search attributes on a dev server. */
export function searchAttributeFlags(): string[] {
  const cliType = { KEYWORD: 'Keyword', INT: 'Int' } as Record<string, string>;
  return SEGFLOW_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${cliType[key.type]}`]);
}
