import type { z } from 'zod';

/**
 * Zod's issues as `path: message` lines, with the reasons zod keeps inside a rejected record key
 * or list element ("Invalid key in record" alone does not say why) and inside a union that matched
 * no option: the option that got furthest into the value, or every option's reason when none did.
 */
export function schemaProblems(issues: readonly z.core.$ZodIssue[], root: string, at: PropertyKey[] = []): string[] {
  return issues.flatMap((issue) => {
    const path = [...at, ...issue.path];
    if (issue.code === 'invalid_key' || issue.code === 'invalid_element')
      return schemaProblems(issue.issues, root, path);
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const depth = (branch: readonly z.core.$ZodIssue[]) => Math.max(0, ...branch.map((inner) => inner.path.length));
      const deepest = Math.max(...issue.errors.map(depth));
      if (deepest > 0)
        return schemaProblems(
          issue.errors.find((branch) => depth(branch) === deepest)!,
          root,
          path,
        );
      const reasons = [...new Set(issue.errors.flat().map((inner) => inner.message.replace(/^Invalid input: /, '')))];
      return [`${name(path, root)}: ${reasons.join(', or ')}`];
    }
    return [`${name(path, root)}: ${issue.message}`];
  });
}

const name = (path: PropertyKey[], root: string) => path.map(String).join('.') || root;
