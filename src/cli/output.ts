/** Everything the commands print goes through here: results on stdout, problems on stderr. */

// A reader that stops early (`strata changes KEY | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
/** `to` is stderr when stdout carries data (a layer), so the report does not mix into it. */
export function printJson(value: unknown, to: NodeJS.WritableStream = process.stdout): void {
  to.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLines(lines: string[], to: NodeJS.WritableStream = process.stdout): void {
  if (lines.length > 0) to.write(`${lines.join('\n')}\n`);
}

/** One line on stderr, prefixed like every strata error. */
export function printError(message: string): void {
  process.stderr.write(`strata: ${message.replace(/\s*\n\s*/g, '; ')}\n`);
}
