/**
 * The benchmark's pure parts: the minimum of CPH calls, the lower bound, percentiles, splitting phones over
 * resources, flags, and the SVG chart. No timing here: the benchmark itself runs with `npm run bench`.
 */
import { expect } from 'chai';
import { lowerBound, minimumCalls, parseBenchArgs, percentile, splitPhones } from '../bench/bench-math.js';
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
