/** The exit codes of `matrix-bgupdates`. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** Stopped by Ctrl-C (128 + SIGINT), as shells report it. */
  interrupted: 130,
} as const

/** Bad arguments: the command line itself is wrong. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** The command could not do its work: a server, a database or a file said no. Exit code 1. */
export class OperationalError extends Error {
  override readonly name = 'OperationalError'
}

/** The message of anything thrown, on one line. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/\s*\n\s*/g, ' ').trim()
}
