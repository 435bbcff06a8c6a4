import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

const typeNames: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a table',
  array: 'an array',
};

/** How a TOML value reads in an error message. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) return 'a table';
  return String(value);
}

/** Dotted key path as written in the TOML file, e.g. `thin.base_image_size`. */
export function keyPath(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : String(part))).join('.').replace(/\.\[/g, '[');
}

/**
 * One line per problem, each naming the key it is about. Issues must come
 * from a parse with `reportInput: true` so the offending value can be shown.
 */
export function formatIssues(issues: readonly Issue[]): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }));
    }
    return [{ path: [...issue.path], message: describeIssue(issue) }];
  });
}

function describeIssue(issue: Issue): string {
  const got = `got ${describeValue(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${typeNames[issue.expected] ?? issue.expected}, ${got}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, ${got}`;
    case 'too_small':
      return issue.origin === 'string' ? `must not be empty, ${got}` : `must be at least ${issue.minimum}, ${got}`;
    default:
      // Custom and format checks carry their own wording, written in the schema.
      return issue.input === undefined || /\bgot\b/.test(issue.message) ? issue.message : `${issue.message}, ${got}`;
  }
}
