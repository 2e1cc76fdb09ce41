// Process entry: run the CLI and turn its result into an exit code. bin/pertoken.js loads the
// compiled copy of this file; tests and `tsx` load it directly.
import { main } from './main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `pertoken: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
