import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../worker/config';

let python: string | undefined;

/**
 * The benchmark's Python (scikit-learn, xgboost, shap), installed on first use: other well-known
 * libraries judging segflow's results in cross-check tests. Never a dependency of segflow itself.
 */
function benchPython(): string {
  python ??= execFileSync('bash', [join(REPO_ROOT, 'scripts', 'ensure-bench-python.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return python;
}

/** Runs a Python script (source text) with the benchmark's Python; returns its stdout parsed as JSON. */
export function runPythonJson<T>(script: string, args: string[] = []): T {
  const out = execFileSync(benchPython(), ['-c', script, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as T;
}
