/**
 * Structured logging. JSON lines in production (one object per line, for log pipelines), a readable
 * single-line form in a terminal. Every line that concerns a resource carries `resource` (namespace/name),
 * every line that concerns a CPH call carries `requestId`. Secrets never reach a line: fields whose names
 * look like credentials are replaced before formatting, whatever the caller passed.
 */
import winston from 'winston';

export type LogFormat = 'json' | 'text';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type Logger = winston.Logger;

const secretFieldName = /(token|secret|password|passwd|authorization|signature|credential|^sk$|secretkey|x-auth)/i;

/** Replaces the values of credential-like fields, at any depth, with a marker. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    out[key] = secretFieldName.test(key) ? '[redacted]' : redact(field, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (secretFieldName.test(key)) info[key] = '[redacted]';
    else info[key] = redact(info[key]);
  }
  return info;
});

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (process.stderr.isTTY ? 'text' : 'json');
  const base = [winston.format.errors({ stack: false }), redactFormat(), winston.format.timestamp()];
  const rendered =
    format === 'json'
      ? winston.format.combine(...base, winston.format.json())
      : winston.format.combine(
          ...base,
          winston.format.printf(({ timestamp, level, message, ...fields }) => {
            const rest = Object.entries(fields)
              .filter(([key, value]) => typeof key === 'string' && value !== undefined)
              .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
              .join(' ');
            return `${String(timestamp)} ${level.toUpperCase().padEnd(5)} ${String(message)}${rest ? ` ${rest}` : ''}`;
          }),
        );
  return winston.createLogger({
    level: options.level ?? 'info',
    format: rendered,
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stderr })],
  });
}

/** A logger that drops everything, for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
