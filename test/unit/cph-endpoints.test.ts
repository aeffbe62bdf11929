import { expect } from 'chai';
import {
  DEFAULT_ALLOWED_ENDPOINT_HOSTS,
  EndpointError,
  allowedEndpoint,
  hostAllowed,
  normalizeEndpoint,
  parseHostPatterns,
} from '../../src/cph/endpoints.js';

describe('cph endpoints: one spelling per endpoint, and only allowed hosts', () => {
  it('normalizes scheme, host case, trailing dot, default port and a lone slash to one origin', () => {
    const spellings = [
      'https://cph.cn-north-4.myhuaweicloud.com',
      'https://CPH.cn-north-4.MyHuaweiCloud.com/',
      'https://cph.cn-north-4.myhuaweicloud.com.',
      'https://cph.cn-north-4.myhuaweicloud.com:443',
      'HTTPS://cph.cn-north-4.myhuaweicloud.com.:443/',
      '  https://cph.cn-north-4.myhuaweicloud.com  ',
    ];
    for (const spelling of spellings)
      expect(normalizeEndpoint(spelling, 'spec.endpoint'), spelling).to.equal(
        'https://cph.cn-north-4.myhuaweicloud.com',
      );
    expect(normalizeEndpoint('https://127.0.0.1:8443', 'f')).to.equal('https://127.0.0.1:8443');
    expect(normalizeEndpoint('http://127.0.0.1:9000/', 'f')).to.equal('http://127.0.0.1:9000');
    expect(normalizeEndpoint('http://localhost:80', 'f')).to.equal('http://localhost');
  });

  it('refuses path tricks, user info, backslashes, queries and plain http to other hosts, naming the field', () => {
    const refused: Array<[string, RegExp]> = [
      ['https://evil.example\\@cph.cn-north-4.myhuaweicloud.com', /backslash/],
      ['https://user:pw@cph.cn-north-4.myhuaweicloud.com', /user info/],
      ['https://cph.cn-north-4.myhuaweicloud.com@evil.example', /user info/],
      ['https://cph.cn-north-4.myhuaweicloud.com/v1/other', /path/],
      ['https://cph.cn-north-4.myhuaweicloud.com/..%2f', /path/],
      ['https://cph.cn-north-4.myhuaweicloud.com?x=1', /query/],
      ['https://cph.cn-north-4.myhuaweicloud.com#x', /fragment/],
      ['http://cph.cn-north-4.myhuaweicloud.com', /plain http/],
      ['http://10.0.0.1', /plain http/],
      ['ftp://cph.cn-north-4.myhuaweicloud.com', /only https/],
      ['cph.cn-north-4.myhuaweicloud.com', /not a URL/],
      ['https://cph.cn-north-4\t.myhuaweicloud.com', /white space|control/],
    ];
    for (const [raw, why] of refused) {
      let error: unknown;
      try {
        normalizeEndpoint(raw, 'ClusterCloudPhoneAccount/x spec.endpoint');
      } catch (e) {
        error = e;
      }
      expect(error, raw).to.be.instanceOf(EndpointError);
      expect((error as EndpointError).message, raw)
        .to.match(why)
        .and.to.contain('ClusterCloudPhoneAccount/x spec.endpoint');
    }
  });

  it('admits exact hosts and *.domain patterns, never the bare domain or a look-alike', () => {
    const patterns = parseHostPatterns('*.myhuaweicloud.com, 127.0.0.1');
    expect(hostAllowed('https://cph.cn-north-4.myhuaweicloud.com', patterns)).to.equal(true);
    expect(hostAllowed('https://iam.myhuaweicloud.com', patterns)).to.equal(true);
    expect(hostAllowed('https://a.b.myhuaweicloud.com', patterns)).to.equal(true);
    expect(hostAllowed('https://myhuaweicloud.com', patterns)).to.equal(false);
    expect(hostAllowed('https://evilmyhuaweicloud.com', patterns)).to.equal(false);
    expect(hostAllowed('https://cph.myhuaweicloud.com.evil.example', patterns)).to.equal(false);
    expect(hostAllowed('https://127.0.0.1:8443', patterns)).to.equal(true);
    expect(hostAllowed('https://127.0.0.2:8443', patterns)).to.equal(false);
    expect(hostAllowed('http://localhost:1', patterns)).to.equal(false);
  });

  it('defaults to Huawei Cloud API hosts', () => {
    const patterns = parseHostPatterns(DEFAULT_ALLOWED_ENDPOINT_HOSTS.join(','));
    expect(allowedEndpoint('https://cph.ap-southeast-1.myhuaweicloud.com', 'f', patterns)).to.equal(
      'https://cph.ap-southeast-1.myhuaweicloud.com',
    );
    expect(() => allowedEndpoint('https://127.0.0.1:1', 'spec.endpoint', patterns)).to.throw(
      EndpointError,
      /spec.endpoint: host 127.0.0.1 is not on the operator's --allowed-endpoint-hosts/,
    );
  });

  it('refuses malformed patterns, naming the flag', () => {
    for (const bad of ['', '*.com', '*', 'bad host', 'a..b', '*.'])
      expect(() => parseHostPatterns(bad), bad).to.throw(EndpointError, /--allowed-endpoint-hosts/);
  });
});
