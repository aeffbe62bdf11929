/** The ParseError `fn` throws; fails the test when it throws nothing or something else. */
import { expect } from 'chai';
import { ParseError } from '../../src/errors.js';

export function parseErrorOf(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ParseError);
    return err as ParseError;
  }
  expect.fail('expected a ParseError');
}
