/**
 * The root of the operator's typed errors. Every error that crosses a module border carries a stable
 * machine-readable `code` (used in status reasons, metrics labels and tests) and, where it wraps
 * another failure, that failure as `cause`.
 */
export class OperatorError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** A value that crossed a border (network, file, user input) did not have the expected shape. */
export class ParseError extends OperatorError {
  /** Dotted path of the offending field, e.g. `jobs[3].job_id` or `spec.trafficType`. */
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('ParseError', `${field}: ${message}`, options);
    this.field = field;
  }
}

/** Text of any thrown value, for logs and status messages. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
