import { expect } from 'chai';
import { OperatorError } from '../../src/errors.js';
import {
  CphError,
  callOutcome,
  isAccountProblem,
  isAuthError,
  isNotFound,
  isRetryable,
  isThrottle,
  isTimeout,
} from '../../src/cph/errors.js';

const op = 'ListCloudPhones';

describe('CphError', () => {
  it('is an OperatorError whose code is the CPH code, with every field kept', () => {
    const err = new CphError({
      operation: op,
      httpStatus: 404,
      errorCode: 'CPS.0005',
      errorMessage: 'phone not found',
      requestId: 'r1',
    });
    expect(err).to.be.instanceOf(OperatorError);
    expect(err.code).to.equal('CPS.0005');
    expect(err).to.include({
      operation: op,
      httpStatus: 404,
      errorCode: 'CPS.0005',
      errorMessage: 'phone not found',
      requestId: 'r1',
      retryable: false,
      attempts: 1,
    });
    expect(err.message).to.equal('ListCloudPhones: HTTP 404 CPS.0005: phone not found (request r1)');
    expect(err.name).to.equal('CphError');
  });

  const cases: Array<[string, number | undefined, string, boolean]> = [
    ['500 CPS.0003', 500, 'CPS.0003', true],
    ['503 gateway', 503, 'APIGW.0503', true],
    ['429 APIGW.0308', 429, 'APIGW.0308', true],
    ['APIGW.0308 with an odd status', 400, 'APIGW.0308', true],
    ['timeout', undefined, 'Timeout', true],
    ['reset', undefined, 'ConnectionReset', true],
    ['refused connection', undefined, 'ConnectionFailed', true],
    ['TLS failure', undefined, 'TlsError', false],
    ['401 APIGW.0301', 401, 'APIGW.0301', false],
    ['401 APIGW.0303 (skew)', 401, 'APIGW.0303', false],
    ['400 CPS.0002', 400, 'CPS.0002', false],
    ['404 CPS.0005', 404, 'CPS.0005', false],
    ['403 CPS.0001', 403, 'CPS.0001', false],
    ['invalid response', 200, 'InvalidResponse', false],
  ];
  for (const [name, status, code, retryable] of cases) {
    it(`${name} is ${retryable ? '' : 'not '}retryable`, () => {
      expect(
        new CphError({ operation: op, httpStatus: status, errorCode: code, errorMessage: 'x' }).retryable,
      ).to.equal(retryable);
    });
  }

  it('classifies', () => {
    const e = (httpStatus: number | undefined, errorCode: string): CphError =>
      new CphError({ operation: op, httpStatus, errorCode, errorMessage: 'x' });
    expect(isAuthError(e(401, 'APIGW.0301'))).to.equal(true);
    expect(isAuthError(e(401, 'APIGW.0303'))).to.equal(true);
    expect(isAuthError(e(undefined, 'AuthSuspended'))).to.equal(true);
    expect(isAuthError(e(400, 'CPS.0002'))).to.equal(false);
    expect(isThrottle(e(429, 'APIGW.0308'))).to.equal(true);
    expect(isThrottle(e(500, 'CPS.0003'))).to.equal(false);
    expect(isNotFound(e(404, 'CPS.0005'))).to.equal(true);
    expect(isNotFound(e(400, 'CPS.0005'))).to.equal(true);
    expect(isNotFound(e(404, 'APIGW.0101'))).to.equal(false);
    expect(isAccountProblem(e(403, 'CPS.0007'))).to.equal(true);
    expect(isAccountProblem(e(400, 'CPS.0002'))).to.equal(false);
    expect(isTimeout(e(undefined, 'Timeout'))).to.equal(true);
    expect(isRetryable(new Error('plain'))).to.equal(false);
    expect(callOutcome(e(429, 'APIGW.0308'))).to.equal('throttled');
    expect(callOutcome(e(401, 'APIGW.0301'))).to.equal('authError');
    expect(callOutcome(e(503, 'APIGW.0503'))).to.equal('serverError');
    expect(callOutcome(e(undefined, 'Timeout'))).to.equal('timeout');
    expect(callOutcome(e(undefined, 'ConnectionReset'))).to.equal('networkError');
    expect(callOutcome(e(200, 'InvalidResponse'))).to.equal('invalidResponse');
    expect(callOutcome(e(400, 'CPS.0004'))).to.equal('clientError');
  });

  it('an explicit retryable wins over the table', () => {
    expect(
      new CphError({ operation: op, httpStatus: 500, errorCode: 'X', errorMessage: 'x', retryable: false }).retryable,
    ).to.equal(false);
  });
});
