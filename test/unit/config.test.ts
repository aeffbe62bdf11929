import { expect } from 'chai';
import { parseOperatorArgs } from '../../src/config.js';

const quiet = { writeOut: () => undefined, writeErr: () => undefined };

describe('operator configuration', () => {
  it('has sane defaults', () => {
    const config = parseOperatorArgs([], {}, 'host');
    expect(config.namespaces).to.deep.equal([]);
    expect(config.driftIntervalMs).to.equal(300_000);
    expect(config.maxConcurrentReconciles).to.equal(4);
    expect(config.cphQps).to.equal(20);
    expect(config.cphApiQps).to.equal(20);
    expect(config.kubeApiQps).to.equal(20);
    expect(config.kubeApiBurst).to.equal(30);
    expect(config.leaderElect).to.equal(false);
    expect(config.leaseDurationMs).to.equal(15_000);
    expect(config.renewDeadlineMs).to.equal(10_000);
    expect(config.retryPeriodMs).to.equal(2_000);
    expect(config.metricsBindAddress).to.equal(':8080');
    expect(config.healthProbeBindAddress).to.equal(':8081');
    expect(config.leaderElectionNamespace).to.equal('cph-route-operator-system');
    expect(config.clusterResourceNamespace).to.equal('cph-route-operator-system');
    expect(config.defaultAccount).to.equal(undefined);
    expect(config.allowedEndpointHosts).to.deep.equal([{ suffix: '.myhuaweicloud.com' }]);
  });

  it('reads every flag', () => {
    const config = parseOperatorArgs(
      [
        '--kubeconfig',
        '/k',
        '--namespaces',
        'a, b',
        '--iam-endpoint',
        'https://iam.example.com/',
        '--allowed-endpoint-hosts',
        '*.example.com, 127.0.0.1',
        '--default-account',
        'shared',
        '--cluster-resource-namespace',
        'accounts',
        '--drift-interval',
        '30s',
        '--max-concurrent-reconciles',
        '8',
        '--cph-qps',
        '5.5',
        '--cph-api-qps',
        '3',
        '--kube-api-qps',
        '50.5',
        '--kube-api-burst',
        '100',
        '--leader-elect',
        '--metrics-bind-address',
        '0',
        '--log-format',
        'text',
      ],
      { POD_NAME: 'pod-1', POD_NAMESPACE: 'ops' },
    );
    expect(config.kubeconfig).to.equal('/k');
    expect(config.namespaces).to.deep.equal(['a', 'b']);
    expect(config.iamEndpoint).to.equal('https://iam.example.com');
    expect(config.allowedEndpointHosts).to.deep.equal([{ suffix: '.example.com' }, { exact: '127.0.0.1' }]);
    expect(config.defaultAccount).to.equal('shared');
    expect(config.clusterResourceNamespace).to.equal('accounts');
    expect(config.driftIntervalMs).to.equal(30_000);
    expect(config.maxConcurrentReconciles).to.equal(8);
    expect(config.cphQps).to.equal(5.5);
    expect(config.cphApiQps).to.equal(3);
    expect(config.kubeApiQps).to.equal(50.5);
    expect(config.kubeApiBurst).to.equal(100);
    expect(parseOperatorArgs(['--cph-qps', '5.5'], {}, 'host').cphApiQps).to.equal(5);
    expect(config.leaderElect).to.equal(true);
    expect(config.metricsBindAddress).to.equal(undefined);
    expect(config.logFormat).to.equal('text');
    expect(config.identity).to.equal('pod-1');
    expect(config.leaderElectionNamespace).to.equal('ops');
    expect(parseOperatorArgs([], { POD_NAMESPACE: 'ops' }).clusterResourceNamespace).to.equal('ops');
  });

  it('no longer takes a CPH endpoint, region or project: accounts say where', () => {
    for (const flag of ['--cph-endpoint', '--region', '--project-id'])
      expect(() => parseOperatorArgs([flag, 'x'], {}, 'host', quiet), flag).to.throw(/unknown option/);
  });

  for (const [args, flag] of [
    [['--drift-interval', '5s'], '--drift-interval'],
    [['--drift-interval', 'soon'], '--drift-interval'],
    [['--max-concurrent-reconciles', '0'], '--max-concurrent-reconciles'],
    [['--cph-qps', '-1'], '--cph-qps'],
    [['--cph-api-qps', '0.5'], '--cph-api-qps'],
    [['--kube-api-qps', '0'], '--kube-api-qps'],
    [['--kube-api-burst', '1.5'], '--kube-api-burst'],
    [['--iam-endpoint', 'not a url'], '--iam-endpoint'],
    [['--allowed-endpoint-hosts', '*.com'], '--allowed-endpoint-hosts'],
    [['--default-account', 'Not_A_Name'], '--default-account'],
    [['--cluster-resource-namespace', 'Bad_Name'], '--cluster-resource-namespace'],
    [['--metrics-bind-address', 'everywhere'], '--metrics-bind-address'],
    [['--namespaces', 'Bad_Name'], '--namespaces'],
    [['--log-level', 'loud'], '--log-level'],
    [['--leader-election-renew-deadline', '20s'], '--leader-election-renew-deadline'],
  ] as const) {
    it(`refuses a bad ${flag} with a message naming it`, () => {
      expect(() => parseOperatorArgs([...args], {}, 'host', quiet)).to.throw(flag);
    });
  }
});
