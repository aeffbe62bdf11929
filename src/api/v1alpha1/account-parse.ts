// Placeholder until the API branch lands (its version replaces this file).
import type { CloudPhoneAccountObject } from './account-types.js';

export function parseAccountObject(value: unknown): CloudPhoneAccountObject {
  return value as CloudPhoneAccountObject;
}
