/**
 * `npm run release:manifests -- --image REPO@DIGEST --out DIR` (scripts/release-manifests.ts): install.yaml is
 * the kustomize render of deploy/ with the image pinned by digest and nothing else changed, crds.yaml the CRDs
 * of crds/; an image without a digest is refused.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parsePinnedImage } from '../../scripts/release-manifests.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

interface Manifest {
  kind: string;
  metadata: { name: string };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds
  spec?: any;
}

const documents = (text: string): Manifest[] => parseAllDocuments(text).map((d) => d.toJSON() as Manifest);

describe('npm run release:manifests', () => {
  let out = '';
  before(() => {
    out = mkdtempSync(path.join(tmpdir(), 'release-manifests-'));
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('writes install.yaml (deploy/ with the image pinned) and crds.yaml (crds/)', function () {
    this.timeout(60_000);
    const image = `registry.example.com/platform/cph-route-operator@${DIGEST}`;
    execFileSync('npx', ['tsx', 'scripts/release-manifests.ts', '--image', image, '--out', out], { cwd: root });
    const install = documents(readFileSync(path.join(out, 'install.yaml'), 'utf8'));
    const deploy = documents(execFileSync('kubectl', ['kustomize', 'deploy'], { cwd: root, encoding: 'utf8' }));
    const deployment = install.find((o) => o.kind === 'Deployment');
    expect(deployment?.spec.template.spec.containers[0].image).to.equal(image);
    // Everything else is deploy/ as it is.
    deployment?.spec.template.spec.containers.forEach((c: { image: string }) => {
      c.image = 'cph-route-operator:0.1.0';
    });
    expect(install).to.deep.equal(deploy);
    const crds = documents(readFileSync(path.join(out, 'crds.yaml'), 'utf8'));
    expect(crds.map((o) => `${o.kind}/${o.metadata.name}`).sort()).to.deep.equal([
      'CustomResourceDefinition/cloudphoneaccounts.cloudphone.dev',
      'CustomResourceDefinition/cloudphoneroutes.cloudphone.dev',
      'CustomResourceDefinition/clustercloudphoneaccounts.cloudphone.dev',
    ]);
  });

  it('refuses an image that is not pinned by digest', function () {
    this.timeout(60_000);
    const result = spawnSync(
      'npx',
      ['tsx', 'scripts/release-manifests.ts', '--image', 'registry.example.com/x:0.1.0', '--out', out],
      { cwd: root, encoding: 'utf8' },
    );
    expect(result.status).to.equal(1);
    expect(result.stderr).to.match(/--image must be REPO@sha256:/);
    expect(parsePinnedImage(`r.example.com:5000/a/b:1.2.3@${DIGEST}`)).to.deep.equal({
      name: 'r.example.com:5000/a/b',
      tag: '1.2.3',
      digest: DIGEST,
    });
    expect(parsePinnedImage(`a/b@${DIGEST}`)).to.deep.equal({ name: 'a/b', digest: DIGEST });
    expect(() => parsePinnedImage('a/b@sha256:short')).to.throw(/--image/);
  });
});
