import type { z } from 'zod';
import { ApiError } from '../errors';
import { issueWords } from '../zod-words';

/** Parses with zod; a failure becomes one 400 naming the offending field. */
export function parseOrThrow<T extends z.ZodTypeAny>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data as z.infer<T>;
  // An unknown field explains more than the missing field it was probably meant to be.
  const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0];
  if (!issue) throw new ApiError('invalid_request', 'request is invalid');
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path, issue.keys[0]].join('.');
    throw new ApiError('invalid_request', `${field}: unknown field`, { param: field });
  }
  const field = issue.path.join('.') || 'body';
  throw new ApiError('invalid_request', `${field}: ${issueWords(issue)}`, { param: field });
}

/** A keyset cursor: the time and the id of the last row of a page, opaque to the client. */
export function encodeCursor(at: number, id: string): string {
  return Buffer.from(`${at}:${id}`).toString('base64url');
}

/** Reads a cursor encodeCursor wrote, whose id matches `idPattern`; anything else is a 400 naming the cursor. */
export function decodeCursor(cursor: string, idPattern = /[A-Za-z0-9_]+/): { at: number; id: string } {
  const m = new RegExp(`^(\\d+):(${idPattern.source})$`).exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new ApiError('invalid_request', 'cursor: is not a cursor returned by this API', { param: 'cursor' });
  return { at: Number(m[1]), id: m[2] as string };
}
