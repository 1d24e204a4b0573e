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
    return [`${name(path, root)}: ${plainMessage(issue)}`];
  });
}

const TYPE_WORDS: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};

/**
 * Zod's default wording for a wrong type, a number out of range or a value not among the allowed
 * ("Invalid input: expected number, received string", "Too big: expected number to be <=30",
 * "Invalid option: expected one of ...") in plain words; a message the schema wrote itself is kept
 * as it is.
 */
function plainMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input:'))
    return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
  if (issue.code === 'too_small' && issue.origin === 'number' && issue.message.startsWith('Too small:'))
    return `must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}`;
  if (issue.code === 'too_big' && issue.origin === 'number' && issue.message.startsWith('Too big:'))
    return `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`;
  if (issue.code === 'invalid_value' && issue.message.startsWith('Invalid option:'))
    return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
  return issue.message;
}

const name = (path: PropertyKey[], root: string) => path.map(String).join('.') || root;

/**
 * A JSON file's text (a mapping) checked against `schema`: the value, or every problem, one per
 * line, a misspelt field of the file itself named by `unknownField` (which may suggest the closest).
 */
export function parseJsonAgainst<T extends z.ZodType>(
  text: string,
  schema: T,
  unknownField: (key: string) => string,
): { ok: true; value: z.output<T> } | { ok: false; problems: string[] } {
  let json: unknown;
  let prototypeKey = false;
  try {
    json = JSON.parse(text, (key, value: unknown) => {
      // an object's own `__proto__` key is dropped, not checked, as it is copied: refused instead
      if (key === '__proto__') prototypeKey = true;
      return value;
    });
  } catch (error) {
    // not V8's quote of the text: a file named by mistake (a key, a password file) is not shown
    const message = (error as Error).message.replace(/"(?:[^"\\]|\\.)*"(?:\.\.\.)?/g, '(…)');
    return { ok: false, problems: [`not valid JSON: ${message}`] };
  }
  if (prototypeKey) return { ok: false, problems: ['a key named "__proto__" is not a field or a column'] };
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys' && issue.path.length === 0
        ? issue.keys.map(unknownField)
        : schemaProblems([issue], '(mapping)'),
    ),
  };
}
