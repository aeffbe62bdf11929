#!/usr/bin/env node
/**
 * The `cph-route-operator` command: flags and environment to configuration, then run. Exit codes: 0 after
 * a clean shutdown, 1 when a shutdown step failed, 2 for bad flags.
 */
import os from 'node:os';
import v8 from 'node:v8';
import { CommanderError } from 'commander';
import { parseOperatorArgs, type OperatorConfig } from './config.js';
import { createLogger } from './runtime/logger.js';
import { runOperator } from './operator.js';
import { errorMessage } from './errors.js';

async function main(): Promise<void> {
  let config: OperatorConfig;
  try {
    config = parseOperatorArgs(process.argv.slice(2), process.env, os.hostname());
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; bad flags with a message already printed.
      process.exit(error.exitCode === 0 ? 0 : 2);
    }
    process.stderr.write(`cph-route-operator: ${errorMessage(error)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, ...(config.logFormat ? { format: config.logFormat } : {}) });
  // The memory budget in effect (the Deployment sets it through NODE_OPTIONS), so that a log shows whether it applied.
  logger.info('node heap budget', {
    heapLimitMiB: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
    nodeOptions: process.env.NODE_OPTIONS ?? '',
    node: process.version,
  });
  try {
    await runOperator(config, logger);
  } catch (error) {
    logger.error('cph-route-operator could not start', { error: errorMessage(error) });
    process.exit(1);
  }
}

void main();
