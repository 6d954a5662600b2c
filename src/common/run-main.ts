/**
 * Runs a command's main and turns its result into the exit code. An unexpected
 * error (a bug, not a ConfigError the command reports itself) prints its stack
 * under the program's name and exits 1.
 */
export function runMain(program: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `${program}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
