/** An error in a user's input that names where it is and what was expected. Exit code 2. */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** A malformed trace row: `file:line: field: expected …, found …`. */
export class TraceRowError extends InputError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${file}:${line}: ${field}: expected ${expected}, found ${found}`);
    this.name = 'TraceRowError';
  }
}

/** Show at most `maxChars` of an offending value so a 10 MB line does not flood the terminal. */
export function excerpt(value: string, maxChars = 60): string {
  const s = JSON.stringify(value.length > maxChars ? `${value.slice(0, maxChars)}…` : value);
  return value.length > maxChars ? `${s} (${value.length} chars)` : s;
}
