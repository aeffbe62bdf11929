/**
 * The benchmark's pure parts: the minimum of CPH calls, the lower bound, percentiles, splitting phones over
 * resources, flags, and the SVG chart. No timing here: the benchmark itself runs with `npm run bench`.
 */
import { expect } from 'chai';
import {
  aggregateAccounts,
  lowerBound,
  minimumCalls,
  parseBenchArgs,
  percentile,
  planAccounts,
  splitAccounts,
  splitPhones,
} from '../bench/bench-math.js';
import { niceStep, renderLineChart, ticks } from '../bench/svg-chart.js';

describe('bench: minimum CPH calls', () => {
  it('is ceil(P/100) lists + ceil(D/100) writes + ceil(D/100) job pages', () => {
    expect(minimumCalls({ phones: 2000, drifted: 2000 })).to.deep.equal({
      ListCloudPhones: 20,
      ImportTraffic: 20,
      ListJobs: 20,
      total: 60,
    });
    expect(minimumCalls({ phones: 10_000, drifted: 10_000 }).total).to.equal(300);
    expect(minimumCalls({ phones: 101, drifted: 1 })).to.deep.equal({
      ListCloudPhones: 2,
      ImportTraffic: 1,
      ListJobs: 1,
      total: 4,
    });
    expect(minimumCalls({ phones: 500, drifted: 0 }).total).to.equal(5);
  });

  it('adds one ListCloudPhones per set of credentials checked before use (the operator: one per account)', () => {
    expect(minimumCalls({ phones: 2000, drifted: 2000, verifiedCredentials: 1 })).to.deep.equal({
      ListCloudPhones: 21,
      ImportTraffic: 20,
      ListJobs: 20,
      total: 61,
    });
    expect(minimumCalls({ phones: 10_000, drifted: 10_000, verifiedCredentials: 2 }).total).to.equal(302);
    expect(minimumCalls({ phones: 2000, drifted: 2000, verifiedCredentials: 0 })).to.deep.equal(
      minimumCalls({ phones: 2000, drifted: 2000 }),
    );
  });
});

describe('bench: lower bound', () => {
  it('adds the busiest API at the gateway rate, three latencies and the job duration', () => {
    const bound = lowerBound({ phones: 2000, drifted: 2000 }, { rateLimitPerApi: 50, latencyMs: 50, jobMs: 5000 });
    expect(bound.rateSeconds).to.be.closeTo(0.4, 1e-9);
    expect(bound.latencySeconds).to.be.closeTo(0.15, 1e-9);
    expect(bound.jobSeconds).to.equal(5);
    expect(bound.seconds).to.be.closeTo(5.55, 1e-9);
  });

  it("is the bound for any client: credential checks, the operator's choice, do not move it", () => {
    const timing = { rateLimitPerApi: 50, latencyMs: 50, jobMs: 5000 };
    expect(lowerBound({ phones: 2000, drifted: 2000, verifiedCredentials: 1 }, timing)).to.deep.equal(
      lowerBound({ phones: 2000, drifted: 2000 }, timing),
    );
  });

  it('takes the larger of list and write calls, not their sum (different APIs)', () => {
    const bound = lowerBound({ phones: 10_000, drifted: 100 }, { rateLimitPerApi: 50, latencyMs: 0, jobMs: 0 });
    expect(bound.seconds).to.be.closeTo(2, 1e-9);
  });
});

describe('bench: percentile', () => {
  it('is nearest-rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).to.equal(50);
    expect(percentile(values, 99)).to.equal(99);
    expect(percentile(values, 100)).to.equal(100);
    expect(percentile([3], 99)).to.equal(3);
    expect(percentile([1, 2, 3, 4], 50)).to.equal(2);
    expect(Number.isNaN(percentile([], 50))).to.equal(true);
  });
});

describe('bench: splitting phones over resources', () => {
  it('keeps every phone once, in groups differing by at most one', () => {
    const ids = Array.from({ length: 2003 }, (_, i) => `p${i}`);
    const groups = splitPhones(ids, 20);
    expect(groups).to.have.length(20);
    expect(groups.flat()).to.deep.equal(ids);
    const sizes = groups.map((g) => g.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).to.be.at.most(1);
  });

  it('never makes empty groups', () => {
    expect(splitPhones(['a', 'b'], 5)).to.deep.equal([['a'], ['b']]);
  });
});

describe('bench: flags', () => {
  it('has the issue defaults and takes --flag value and --flag=value', () => {
    const defaults = parseBenchArgs([]);
    expect(defaults).to.include({
      phones: 10_000,
      routes: 100,
      out: 'bench.json',
      rateLimit: 50,
      cphQps: 150,
      cphBurst: 150,
      cphApiQps: 50,
      driftIntervalSeconds: 30,
      baseline: true,
    });
    const o = parseBenchArgs(['--phones', '2000', '--routes=20', '--out', 'x.json', '--no-baseline']);
    expect(o).to.include({ phones: 2000, routes: 20, out: 'x.json', driftIntervalSeconds: 10, baseline: false });
    expect(parseBenchArgs(['--rate-limit', '20', '--cph-qps', '30'])).to.include({
      cphQps: 30,
      cphBurst: 30,
      cphApiQps: 20,
    });
  });

  it('refuses unknown flags and bad values, naming them', () => {
    expect(() => parseBenchArgs(['--phone', '1'])).to.throw(/unknown flag --phone/);
    expect(() => parseBenchArgs(['--phones', 'many'])).to.throw(/--phones must be a number/);
    expect(() => parseBenchArgs(['--phones', '10', '--routes', '20'])).to.throw(/--routes/);
    expect(() => parseBenchArgs(['--drift-interval', '5'])).to.throw(/--drift-interval/);
  });
});

describe('bench: SVG chart', () => {
  it('picks 1-2-5 tick steps covering the data', () => {
    expect(niceStep(2000, 5)).to.equal(500);
    expect(niceStep(7.3, 5)).to.equal(2);
    expect(ticks(7.3)).to.deep.equal([0, 2, 4, 6, 8]);
    expect(ticks(10_000)).to.deep.equal([0, 2000, 4000, 6000, 8000, 10_000]);
  });

  it('draws one polyline per series, markers and an escaped legend', () => {
    const svg = renderLineChart({
      title: 'P=2000 <test>',
      xLabel: 's',
      yLabel: 'phones',
      series: [
        {
          name: 'on route',
          points: [
            [0, 0],
            [5, 1000],
            [6, 2000],
          ],
          color: '#00f',
          step: true,
        },
        {
          name: 'in sync & ready',
          points: [
            [0, 0],
            [7, 2000],
          ],
          color: '#0f0',
          dashed: true,
        },
      ],
      markers: [{ x: 5.5, label: 'lower bound', color: '#f00' }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).to.equal(true);
    expect(svg.trimEnd().endsWith('</svg>')).to.equal(true);
    expect(svg.match(/<polyline /g)).to.have.length(2);
    expect(svg).to.include('P=2000 &lt;test&gt;');
    expect(svg).to.include('in sync &amp; ready');
    expect(svg).to.include('lower bound');
    // A step series holds its value until the next point: 3 points become 5 vertices.
    const stepLine = /<polyline[^>]*stroke="#00f"[^>]*points="([^"]*)"/.exec(svg)?.[1] ?? '';
    expect(stepLine.split(' ')).to.have.length(5);
  });
});

describe('bench: accounts', () => {
  const timing = { rateLimitPerApi: 50, latencyMs: 50, jobMs: 5000 };

  it('splits phones and resources evenly, the larger shares to the first accounts', () => {
    expect(splitAccounts(100_000, 1000, 10)).to.deep.equal(Array(10).fill({ phones: 10_000, routes: 100 }));
    expect(splitAccounts(10, 5, 3)).to.deep.equal([
      { phones: 4, routes: 2 },
      { phones: 3, routes: 2 },
      { phones: 3, routes: 1 },
    ]);
    expect(splitAccounts(7, 3, 1)).to.deep.equal([{ phones: 7, routes: 3 }]);
    expect(() => splitAccounts(100, 2, 3)).to.throw(/at least as many resources/);
    expect(() => splitAccounts(100, 2, 0)).to.throw(/integer >= 1/);
  });

  it('plans each account with its own credential check and bound', () => {
    const [a, b] = planAccounts(splitAccounts(10_100, 20, 2), timing);
    expect(a?.minimum.total).to.equal(minimumCalls({ phones: 5050, drifted: 5050, verifiedCredentials: 1 }).total);
    expect(a?.minimum.ListCloudPhones).to.equal(1 + 51);
    expect(b?.bound.seconds).to.equal(lowerBound({ phones: 5050, drifted: 5050 }, timing).seconds);
  });

  it('totals: calls and minimum add up, the bound and the convergence are the slowest account', () => {
    const plans = planAccounts(
      [
        { phones: 200, routes: 2 },
        { phones: 10_000, routes: 2 },
      ],
      timing,
    );
    const { accounts, totals } = aggregateAccounts(plans, [
      {
        calls: { ListCloudPhones: 3, ImportTraffic: 2, ListJobs: 3 },
        convergeSeconds: 6,
        steadyListCallsPerInterval: 2,
      },
      {
        calls: { ListCloudPhones: 101, ImportTraffic: 100, ListJobs: 110 },
        convergeSeconds: 8,
        steadyListCallsPerInterval: 100,
      },
    ]);
    expect(totals.cphCallsTotal).to.equal(8 + 311);
    expect(totals.cphCallsMin).to.equal(7 + 301);
    expect(totals.lowerBoundSeconds).to.equal(plans[1]?.bound.seconds);
    expect(totals.convergeSeconds).to.equal(8);
    expect(accounts[0]).to.include({ account: 0, cph_calls_total: 8, cph_calls_min: 7, steady_list_calls_target: 2 });
    expect(accounts[1]?.steady_list_calls_target).to.equal(100);
    expect(accounts[1]?.cph_calls_ratio).to.equal(1.03);
    expect(accounts[1]?.converge_ratio).to.equal(Math.round((8 / (plans[1]?.bound.seconds ?? 1)) * 100) / 100);
  });

  it('leaves the convergence undefined when one account did not converge', () => {
    const plans = planAccounts(splitAccounts(200, 2, 2), timing);
    const { accounts, totals } = aggregateAccounts(plans, [
      { calls: {}, convergeSeconds: 6, steadyListCallsPerInterval: 1 },
      { calls: {}, convergeSeconds: undefined, steadyListCallsPerInterval: 1 },
    ]);
    expect(totals.convergeSeconds).to.equal(undefined);
    expect(accounts[1]?.converge_seconds).to.equal(null);
    expect(() => aggregateAccounts(plans, [])).to.throw(/2 plans but 0/);
  });

  it('parses --accounts and --restart; several accounts skip the baseline', () => {
    const one = parseBenchArgs([]);
    expect(one).to.include({ accounts: 1, restart: false, baseline: true });
    const ten = parseBenchArgs(['--phones', '100000', '--accounts', '10', '--routes', '1000', '--restart']);
    expect(ten).to.include({ accounts: 10, restart: true, baseline: false, driftIntervalSeconds: 30 });
    expect(() => parseBenchArgs(['--phones', '100', '--routes', '2', '--accounts', '3'])).to.throw(/cannot exceed/);
    expect(() => parseBenchArgs(['--accounts', '0'])).to.throw(/--accounts must be a number >= 1/);
  });
});
