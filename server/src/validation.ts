import { badInput } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

interface TextRule {
  min?: number;
  max: number;
}

/** Trims and checks a required text input. */
export function requiredText(value: string, field: string, { min = 1, max }: TextRule): string {
  const text = value.trim();
  if (text.length < min || text.length > max) {
    throw badInput(`${field} must be ${min} to ${max} characters long`, field);
  }
  return text;
}

/** Trims an optional text input; empty becomes null. */
export function optionalText(value: string | null | undefined, field: string, max: number): string | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text.length > max) throw badInput(`${field} must be at most ${max} characters long`, field);
  return text === '' ? null : text;
}

/** An integer page size within bounds. */
export function pageSize(value: number | null | undefined, field: string, fallback: number, max = 100): number {
  const size = value ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > max) throw badInput(`${field} must be from 1 to ${max}`, field);
  return size;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function optionalEmail(value: string | null | undefined, field: string): string | null {
  const email = optionalText(value, field, 254);
  if (email !== null && !EMAIL.test(email)) throw badInput(`${field} is not an email address`, field);
  return email === null ? null : email.toLowerCase();
}

export function requiredEmail(value: string, field: string): string {
  const email = optionalEmail(value, field);
  if (email === null) throw badInput(`${field} is required`, field);
  return email;
}

/** Two instants in order and no further apart than `maxMs`. */
export function timeRange(from: Date, to: Date, fields: [string, string], maxMs: number, what = 'range'): void {
  if (!(to.getTime() > from.getTime())) throw badInput(`${fields[1]} must be after ${fields[0]}`, fields[1]);
  if (to.getTime() - from.getTime() > maxMs) {
    throw badInput(`the ${what} from ${fields[0]} to ${fields[1]} is too long`, fields[1]);
  }
}

/** An opaque cursor wrapping a list of values (base64url JSON). */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, field: string, arity: number): unknown[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === arity) return values;
  } catch {
    // fall through to the error below
  }
  throw badInput(`${field} is not a cursor this API gave out`, field);
}
