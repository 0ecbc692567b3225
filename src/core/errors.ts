/**
 * Errors that a researcher can act on: every one names what went wrong and, where there is one, the fix.
 * Command-line entry points print `message` (and `fix`) without a stack trace.
 */

/** An error with a human-readable remedy attached. */
export class SaerchError extends Error {
  /** What to do about it, e.g. "run `npm run setup`". */
  readonly fix: string | undefined;

  constructor(message: string, fix?: string) {
    super(fix ? `${message}\n  fix: ${fix}` : message);
    this.name = "SaerchError";
    this.fix = fix;
  }
}

/** A file whose bytes do not follow its format (bad magic, corrupt header, truncated data). */
export class FormatError extends SaerchError {
  /** The offending file, when the bytes came from one. */
  readonly file: string | undefined;
  /** What is wrong, without the file name and the fix (so a caller can restate it with its own fix). */
  readonly detail: string;

  constructor(file: string | undefined, message: string, fix?: string) {
    super(file ? `${file}: ${message}` : message, fix);
    this.name = "FormatError";
    this.file = file;
    this.detail = message;
  }
}

/** Format any thrown value as one clear line (plus fix), for command-line output. */
export function describeError(err: unknown): string {
  if (err instanceof SaerchError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
