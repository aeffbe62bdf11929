/**
 * The field readers every parser of src/api/v1alpha1 shares (parse.ts for routes, account-parse.ts for
 * accounts): each takes an untrusted value and the dotted name of its field, and gives back a typed value or
 * throws a ParseError naming that field. Status parts are read leniently instead (undefined, never thrown),
 * since the operator rewrites the status anyway.
 */
import { ParseError } from '../../errors.js';
import type { Condition } from './types.js';

export type Obj = Record<string, unknown>;

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function object(value: unknown, field: string): Obj {
  if (!isObject(value)) throw new ParseError(field, `must be an object, got ${describe(value)}`);
  return value;
}

/** A short, safe rendering of a value for an error message (strings cut at 40 characters). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return typeof value;
}

export function string(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new ParseError(field, `must be a string, got ${describe(value)}`);
  return value;
}

/** A type guard: `value` is one of `members` (an enum read from untrusted data, without a cast). */
export function isOneOf<T>(members: readonly T[], value: unknown): value is T {
  return (members as readonly unknown[]).includes(value);
}

/** True when `obj[key]` is absent or null, which the API server and kubectl treat alike. */
export function absent(obj: Obj, key: string): boolean {
  return obj[key] === undefined || obj[key] === null;
}

export function optionalString(obj: Obj, key: string, field: string): string | undefined {
  return absent(obj, key) ? undefined : string(obj[key], field);
}

export function optionalBoolean(obj: Obj, key: string, field: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new ParseError(field, `must be true or false, got ${describe(value)}`);
  return value;
}

export function matching(value: string, pattern: RegExp, maxLength: number, field: string, what: string): string {
  if (value.length > maxLength)
    throw new ParseError(field, `must be at most ${maxLength} characters, got ${value.length}`);
  if (!pattern.test(value)) throw new ParseError(field, `${describe(value)} is not ${what}`);
  return value;
}

/** A required string field matching `pattern`; absent -> "is required". */
export function requiredMatching(
  obj: Obj,
  key: string,
  field: string,
  pattern: RegExp,
  maxLength: number,
  what: string,
): string {
  if (absent(obj, key)) throw new ParseError(field, 'is required');
  return matching(string(obj[key], field), pattern, maxLength, field, what);
}

export function array(value: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw new ParseError(field, `must be an array, got ${describe(value)}`);
  if (value.length > max) throw new ParseError(field, `must hold at most ${max} items, got ${value.length}`);
  return value;
}

/** A list of unique strings, each checked by `item`; a duplicate is named by its index. */
export function uniqueStrings(
  value: unknown,
  field: string,
  max: number,
  item: (text: string, field: string) => string,
): string[] {
  const seen = new Set<string>();
  return array(value, field, max).map((raw, i) => {
    const text = item(string(raw, `${field}[${i}]`), `${field}[${i}]`);
    if (seen.has(text)) throw new ParseError(`${field}[${i}]`, `duplicate value ${describe(text)}`);
    seen.add(text);
    return text;
  });
}

export function idList(
  value: unknown,
  field: string,
  max: number,
  pattern: RegExp,
  maxLength: number,
  what: string,
): string[] {
  return uniqueStrings(value, field, max, (text, itemField) => matching(text, pattern, maxLength, itemField, what));
}

/** A string of 1 to maxLength characters. */
export function nonEmpty(text: string, field: string, maxLength: number): string {
  if (text.length === 0) throw new ParseError(field, 'must not be empty');
  if (text.length > maxLength)
    throw new ParseError(field, `must be at most ${maxLength} characters, got ${text.length}`);
  return text;
}

/** A string-to-string map such as labels; each value is read with `value` (default: any string). */
export function stringMap(
  input: unknown,
  field: string,
  value: (text: string, field: string) => string = (text) => text,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(object(input, field)))
    out[key] = value(string(raw, `${field}.${key}`), `${field}.${key}`);
  return out;
}

export function nonNegativeInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** metadata.generation: a whole number >= 0, or absent. */
export function optionalGeneration(obj: Obj, key: string, field: string): number | undefined {
  if (absent(obj, key)) return undefined;
  const generation = nonNegativeInt(obj[key]);
  if (generation === undefined) throw new ParseError(field, `must be a whole number, got ${describe(obj[key])}`);
  return generation;
}

/** The part of ObjectMeta both routes and accounts carry. */
export interface CommonMetadata {
  name: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** metadata.name (required, not empty), uid, generation, resourceVersion, labels and annotations of `meta`. */
export function parseCommonMetadata(meta: Obj): CommonMetadata {
  const name = string(meta.name, 'metadata.name');
  if (name === '') throw new ParseError('metadata.name', 'must not be empty');
  const out: CommonMetadata = { name };
  for (const key of ['uid', 'resourceVersion'] as const) {
    const text = optionalString(meta, key, `metadata.${key}`);
    if (text !== undefined) out[key] = text;
  }
  const generation = optionalGeneration(meta, 'generation', 'metadata.generation');
  if (generation !== undefined) out.generation = generation;
  for (const key of ['labels', 'annotations'] as const) {
    if (!absent(meta, key)) out[key] = stringMap(meta[key], `metadata.${key}`);
  }
  return out;
}

/** A metav1.Condition, or undefined when it does not fit. Keys in the order the operator writes them. */
function parseCondition(value: unknown): Condition | undefined {
  if (!isObject(value)) return undefined;
  const { type, status, lastTransitionTime, reason, message, observedGeneration } = value;
  if (typeof type !== 'string' || typeof lastTransitionTime !== 'string' || typeof reason !== 'string')
    return undefined;
  if (status !== 'True' && status !== 'False' && status !== 'Unknown') return undefined;
  const generation = nonNegativeInt(observedGeneration);
  // Keep the key order of the type so a parsed condition deep-equals one the operator built.
  return {
    type,
    status,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    lastTransitionTime,
    reason,
    message: typeof message === 'string' ? message : '',
  };
}

/** status.conditions, leniently: conditions that do not fit are dropped, a repeated type keeps the first. */
export function parseConditions(value: unknown): Condition[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const seen = new Set<string>();
  return value.map(parseCondition).filter((c): c is Condition => {
    if (c === undefined || seen.has(c.type)) return false;
    seen.add(c.type);
    return true;
  });
}
