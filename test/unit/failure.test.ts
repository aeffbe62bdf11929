import { expect } from 'chai';
import { CPH_UNAVAILABLE_STALL_MS, stallingReasons } from '../../src/api/v1alpha1/conditions.js';
import { AccountError } from '../../src/controller/account-config.js';
import { classifyFailure } from '../../src/controller/failure.js';
import { CphError, clientErrorCodes } from '../../src/cph/errors.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');

const cphError = (httpStatus: number | undefined, errorCode: string): CphError =>
  new CphError({ operation: 'ListCloudPhones', httpStatus, errorCode, errorMessage: 'refused' });

describe('classifyFailure: what a failed round means for the status', () => {
  it('names the reason of each kind of error', () => {
    const cases: Array<[unknown, string]> = [
      [new AccountError('AccountNotFound', 'no such account'), 'AccountNotFound'],
      [cphError(401, 'APIGW.0301'), 'CredentialsInvalid'],
      [cphError(403, 'CPS.0001'), 'PermissionDenied'],
      [cphError(400, 'CPS.0006'), 'AccountRestricted'],
      [cphError(429, 'APIGW.0308'), 'Throttled'],
      [cphError(500, 'CPS.0003'), 'CphUnavailable'],
      [cphError(undefined, clientErrorCodes.ConnectionFailed), 'CphUnavailable'],
      [new Error('socket hang up'), 'CphUnavailable'],
    ];
    for (const [error, reason] of cases) expect(classifyFailure(error, undefined, T0).reason, reason).to.equal(reason);
    expect(classifyFailure(cphError(401, 'APIGW.0301'), undefined, T0).message).to.contain('without a restart');
  });

  it('stalls at once for a reason that needs a person, never for a throttle', () => {
    const refused = classifyFailure(cphError(401, 'APIGW.0301'), undefined, T0);
    expect(stallingReasons.has(refused.reason)).to.equal(true);
    expect(refused.stalled).to.equal(true);
    expect(classifyFailure(cphError(429, 'APIGW.0308'), T0 - 10 * CPH_UNAVAILABLE_STALL_MS, T0).stalled).to.equal(
      false,
    );
  });

  it('stalls CphUnavailable only once CPH has been down for CPH_UNAVAILABLE_STALL_MS', () => {
    const down = cphError(undefined, clientErrorCodes.ConnectionFailed);
    expect(classifyFailure(down, undefined, T0).stalled, 'no outage on record').to.equal(false);
    expect(classifyFailure(down, T0, T0 + CPH_UNAVAILABLE_STALL_MS - 1).stalled).to.equal(false);
    expect(classifyFailure(down, T0, T0 + CPH_UNAVAILABLE_STALL_MS).stalled).to.equal(true);
  });
});
