/**
 * `npm run image:build`: builds the Dockerfile with podman on this machine, with NODE_IMAGE set to the local
 * build base (./base.ts, made on the first run), tags the result OPERATOR_IMAGE and prints its ID and size.
 * Nothing is pulled (--pull=never); `npm ci` in the build reaches the npm registry through the host network.
 *
 *   tsx test/image/cli.ts build
 */
import { join } from 'node:path';
import { ensureBuildBase } from './base.js';
import { OPERATOR_IMAGE, REPO_ROOT, inspectImage, mebibytes, podman, requirePodman } from './podman.js';

async function build(): Promise<void> {
  requirePodman();
  const started = Date.now();
  const base = await ensureBuildBase((line) => process.stdout.write(`== ${line}\n`));
  const baseSeconds = (Date.now() - started) / 1000;
  process.stdout.write(`== podman build --build-arg NODE_IMAGE=${base.name} --tag ${OPERATOR_IMAGE}\n`);
  await podman(
    [
      'build',
      '--pull=never',
      '--network=host',
      '--build-arg',
      `NODE_IMAGE=${base.name}`,
      '--tag',
      OPERATOR_IMAGE,
      '--file',
      join(REPO_ROOT, 'Dockerfile'),
      REPO_ROOT,
    ],
    { echo: true },
  );
  const image = await inspectImage(OPERATOR_IMAGE);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(
    `== built ${OPERATOR_IMAGE} in ${seconds.toFixed(1)} s (base ${baseSeconds.toFixed(1)} s, podman build ${(seconds - baseSeconds).toFixed(1)} s)\n`,
  );
  process.stdout.write(`image ID ${image.id}\nsize ${mebibytes(image.sizeBytes)} (${image.sizeBytes} bytes)\n`);
}

const command = process.argv[2];
if (command !== 'build') {
  process.stderr.write('usage: tsx test/image/cli.ts build\n');
  process.exit(2);
}
build().catch((error: unknown) => {
  process.stderr.write(`image build failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
