import { type Command, commandHelp, parseCommandArgs } from './command.js'
import { cancelCommand } from './commands/cancel.js'
import { keysGenerateCommand, keysShowCommand } from './commands/keys.js'
import { pruneUndoLogCommand } from './commands/prune-undo-log.js'
import { resignCommand } from './commands/resign.js'
import {
  disableCommand,
  enableCommand,
  startJobCommand,
  statusCommand,
  watchCommand,
} from './commands/server.js'
import { EXIT, OperationalError, oneLine, UsageError } from './errors.js'
import { type CliIo, notice } from './io.js'

/** Every command, in the order the help lists them. */
export const commands: readonly Command[] = [
  statusCommand,
  enableCommand,
  disableCommand,
  startJobCommand,
  watchCommand,
  resignCommand,
  cancelCommand,
  pruneUndoLogCommand,
  keysGenerateCommand,
  keysShowCommand,
]

/** The help of the whole tool. */
export function mainHelp(): string {
  const list = commands.map((command) => `  ${command.name.padEnd(16)} ${command.summary}`)
  return `matrix-bgupdates: operate the background updates of a Matrix homeserver.

Usage: matrix-bgupdates <command> [options]

Against a running homeserver's admin API (--url, --token or $MATRIX_ADMIN_URL, $MATRIX_ADMIN_TOKEN):
${list.slice(0, 5).join('\n')}

Offline, against its database (--sqlite <file> or --postgres <url>):
${list.slice(5, 8).join('\n')}

Signing key files:
${list.slice(8).join('\n')}

Run 'matrix-bgupdates <command> --help' for a command's options.
Exit codes: 0 done, 1 failed (the reason is printed), 2 bad arguments, 130 stopped by Ctrl-C.
`
}

/** Finds the command the arguments name: one word, or two for `keys`. */
function findCommand(argv: readonly string[]): { command: Command; rest: string[] } {
  const [first, second] = argv
  const twoWords = commands.find((command) => command.name === `${first} ${second}`)
  if (twoWords) return { command: twoWords, rest: argv.slice(2) }

  const oneWord = commands.find((command) => command.name === first)
  if (oneWord) return { command: oneWord, rest: argv.slice(1) }

  if (first === 'keys') {
    throw new UsageError(`keys takes 'generate <file>' or 'show <file>', got '${second ?? ''}'`)
  }
  throw new UsageError(`unknown command '${first}'; see matrix-bgupdates --help`)
}

/**
 * Runs the CLI and resolves to its exit code. Errors are printed on one line: bad arguments exit
 * with 2, failures with 1; anything unexpected is a failure too.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first] = argv
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first !== undefined) io.stdout.write(mainHelp())
    else io.stderr.write(mainHelp())
    return first === undefined ? EXIT.usage : EXIT.ok
  }

  try {
    const { command, rest } = findCommand(argv)
    const args = parseCommandArgs(command, rest)
    if (args.values.help === true) {
      io.stdout.write(commandHelp(command))
      return EXIT.ok
    }
    return await command.run(args, io)
  } catch (error) {
    return reportError(error, io)
  }
}

function reportError(error: unknown, io: CliIo): number {
  notice(io, `matrix-bgupdates: ${oneLine(error)}`)
  if (error instanceof UsageError) return EXIT.usage
  if (!(error instanceof OperationalError) && io.env.MATRIX_BGUPDATES_DEBUG) {
    notice(io, String((error as Error)?.stack ?? error))
  }
  return EXIT.failure
}
