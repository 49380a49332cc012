// Zod's own messages ("Required", "Expected number, received string", "Invalid input") are not sentences a user can
// act on; this turns an issue into one: what the field must be, and what it got.
import type { z } from 'zod';

const article = (t: string): string => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

/** The issue's message as a sentence fragment that follows the field's name ("must be a number, not a string"). */
export function issueWords(issue: z.ZodIssue): string {
  if (issue.code === 'invalid_type') {
    if (issue.received === 'undefined') return 'is required';
    // A message given in the schema is already worded for people.
    if (!/^Expected /.test(issue.message) && issue.message !== 'Required') return issue.message;
    return `must be ${article(issue.expected)}, not ${issue.received === 'null' ? 'null' : article(issue.received)}`;
  }
  if (issue.code === 'invalid_union') {
    const inner = issue.unionErrors.flatMap((e) => e.issues).find((i) => i.code !== 'invalid_type' && i.code !== 'unrecognized_keys');
    return inner ? issueWords(inner) : 'is not any of the accepted forms';
  }
  if (issue.code === 'invalid_enum_value') return `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}, not ${JSON.stringify(issue.received)}`;
  if (issue.code === 'invalid_string' && issue.message === 'Invalid') return `is not a valid ${String(issue.validation)}`;
  if (issue.code === 'too_small' && /^(String|Array|Number) must contain|^Number must be greater/.test(issue.message)) {
    return issue.type === 'array' ? `must list at least ${String(issue.minimum)}` : issue.type === 'string' ? `must be at least ${String(issue.minimum)} characters` : `must be at least ${String(issue.minimum)}`;
  }
  if (issue.code === 'too_big' && /^(String|Array|Number) must contain|^Number must be less/.test(issue.message)) {
    return issue.type === 'array' ? `must list at most ${String(issue.maximum)}` : issue.type === 'string' ? `must be at most ${String(issue.maximum)} characters` : `must be at most ${String(issue.maximum)}`;
  }
  return issue.message;
}
