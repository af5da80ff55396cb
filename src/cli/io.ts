/** Where a command writes, and what it knows of its surroundings. Tests pass their own. */
export interface CliIo {
  /** Results: text, or JSON with `--json`. */
  readonly stdout: Writable
  /** Notices, warnings and errors; progress only when it is a terminal. */
  readonly stderr: Writable
  /** The environment (`MATRIX_ADMIN_URL`, `MATRIX_ADMIN_TOKEN`). */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Whether stderr is a terminal, where progress may be redrawn in place. */
  readonly stderrIsTty: boolean
  /** Registers what the first and second Ctrl-C do; returns a function that unregisters it. */
  onInterrupt(listener: () => void): () => void
}

/** The one method of a stream the CLI uses. */
export interface Writable {
  write(text: string): unknown
}

/** The real process: its streams, its environment and its SIGINT. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    stderrIsTty: process.stderr.isTTY === true,
    onInterrupt(listener) {
      process.on('SIGINT', listener)
      return () => process.off('SIGINT', listener)
    },
  }
}

/** Writes a line of text to stdout. */
export function printLine(io: CliIo, text: string): void {
  io.stdout.write(`${text}\n`)
}

/** Writes a value as one line of JSON to stdout. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`)
}

/** Writes a notice to stderr. */
export function notice(io: CliIo, text: string): void {
  io.stderr.write(`${text}\n`)
}
