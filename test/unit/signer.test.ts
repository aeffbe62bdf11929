import { expect } from 'chai';
import {
  canonicalRequest,
  computeSignature,
  formatSdkDate,
  parseAuthorization,
  parseSdkDate,
  sha256Hex,
  signRequest,
  stringToSign,
} from '../../src/cph/signer.js';

// The three published vectors of ../shared/cph-api.md, section 5.
describe('SDK-HMAC-SHA256 signer', () => {
  it('reproduces vector A (GET with query, content-type;host;x-sdk-date signed)', () => {
    const req = {
      method: 'GET',
      url: new URL(
        'https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0',
      ),
      headers: {
        'Content-Type': 'application/json',
        Host: 'service.region.example.com',
        'X-Sdk-Date': '20191115T033655Z',
      },
      body: '',
    };
    const canonical = canonicalRequest(req, ['content-type', 'host', 'x-sdk-date']);
    expect(sha256Hex(canonical)).to.equal('b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a');
    const sig = computeSignature(
      'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc',
      stringToSign(canonical, '20191115T033655Z'),
    );
    expect(sig).to.equal('7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe');
  });

  it('reproduces vector B (only x-sdk-date signed)', () => {
    const req = {
      method: 'GET',
      url: new URL('https://example.huaweicloud.com/path?limit=1'),
      headers: { 'X-Sdk-Date': '20060102T150405Z' },
      body: '',
    };
    const sig = computeSignature('SecretKey', stringToSign(canonicalRequest(req, ['x-sdk-date']), '20060102T150405Z'));
    expect(sig).to.equal('5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624');
  });

  it('reproduces vector C (POST, body hashed as sent, with its trailing newline)', () => {
    const req = {
      method: 'POST',
      url: new URL('https://example.huaweicloud.com/path?key=value'),
      headers: { 'X-Sdk-Date': '20060102T150405Z', 'Content-Type': 'application/json' },
      body: '{"Name":"test","Id":1}\n',
    };
    const sig = computeSignature('SecretKey', stringToSign(canonicalRequest(req, ['x-sdk-date']), '20060102T150405Z'));
    expect(sig).to.equal('cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59');
  });

  it('signs every sent header plus host and x-sdk-date, and the result parses back', () => {
    const headers = signRequest(
      {
        method: 'GET',
        url: new URL('https://example.huaweicloud.com/path?limit=1'),
        headers: { 'Content-Type': 'application/json' },
        body: '',
      },
      { ak: 'AccessKey', sk: 'SecretKey' },
      new Date(Date.UTC(2006, 0, 2, 15, 4, 5)),
    );
    expect(headers['X-Sdk-Date']).to.equal('20060102T150405Z');
    const parsed = parseAuthorization(headers.Authorization);
    expect(parsed?.access).to.equal('AccessKey');
    expect(parsed?.signedHeaders).to.deep.equal(['content-type', 'host', 'x-sdk-date']);
  });

  it('formats and parses X-Sdk-Date, refusing other forms', () => {
    const date = new Date(Date.UTC(2019, 10, 15, 3, 36, 55));
    expect(formatSdkDate(date)).to.equal('20191115T033655Z');
    expect(parseSdkDate('20191115T033655Z')?.getTime()).to.equal(date.getTime());
    expect(parseSdkDate('2019-11-15T03:36:55Z')).to.equal(undefined);
  });

  it('refuses malformed Authorization headers', () => {
    expect(parseAuthorization('Bearer abc')).to.equal(undefined);
    expect(parseAuthorization('SDK-HMAC-SHA256 Access=AK, SignedHeaders=host')).to.equal(undefined);
  });
});
