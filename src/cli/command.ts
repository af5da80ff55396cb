import { parseArgs } from 'node:util'
import { UsageError } from './errors.js'
import type { CliIo } from './io.js'

/** One option of a command, as its help shows it. */
export interface OptionSpec {
  /** `string` options take a value; `boolean` ones are switches. */
  readonly type: 'string' | 'boolean'
  /** What the value is, in the help: `<url>`, `<ms>`. */
  readonly value?: string
  /** One line of help. */
  readonly description: string
}

/** What a command received, once its arguments are checked. */
export interface CommandArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>
  readonly positionals: readonly string[]
}

/** A command of the CLI: its arguments, its help, and what it does. */
export interface Command {
  /** One or two words: `status`, `keys generate`. */
  readonly name: string
  /** One line, for the command list. */
  readonly summary: string
  /** The positional arguments, in order, all required: `<name>`. */
  readonly positionals: readonly string[]
  readonly options: Readonly<Record<string, OptionSpec>>
  /** More help: what it does, the environment it reads. */
  readonly details?: string
  /** Does the work and resolves to the exit code. */
  run(args: CommandArgs, io: CliIo): Promise<number>
}

/** The options every command takes. */
export const commonOptions: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', description: 'Print machine-readable JSON on stdout.' },
  help: { type: 'boolean', description: 'Show this help.' },
}

/**
 * Parses a command's arguments: unknown options, missing values and a wrong number of positional
 * arguments are usage errors.
 *
 * @throws {UsageError} The arguments do not fit the command.
 */
export function parseCommandArgs(command: Command, argv: readonly string[]): CommandArgs {
  const options = Object.fromEntries(
    Object.entries({ ...command.options, ...commonOptions }).map(([name, spec]) => [
      name,
      { type: spec.type },
    ]),
  )
  const parsed = parseOrExplain(command, argv, options)
  if (parsed.values.help === true) return parsed

  const expected = command.positionals.length
  if (parsed.positionals.length !== expected) {
    const wanted = expected === 0 ? 'no arguments' : command.positionals.join(' ')
    throw new UsageError(`${command.name} takes ${wanted}; see ${command.name} --help`)
  }
  return parsed
}

function parseOrExplain(
  command: Command,
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
): CommandArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    })
    return { values: values as CommandArgs['values'], positionals }
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new UsageError(`${command.name}: ${reason?.replace(/\.$/, '')}`)
  }
}

/** The value of a string option, or undefined. */
export function stringOption(args: CommandArgs, name: string): string | undefined {
  const value = args.values[name]
  return typeof value === 'string' ? value : undefined
}

/**
 * The value of a required string option.
 *
 * @throws {UsageError} It is missing.
 */
export function requiredOption(args: CommandArgs, name: string, command: string): string {
  const value = stringOption(args, name)
  if (value === undefined || value === '') throw new UsageError(`${command} needs --${name}`)
  return value
}

/** Whether a switch is on. */
export function flag(args: CommandArgs, name: string): boolean {
  return args.values[name] === true
}

/** The help text of a command. */
export function commandHelp(command: Command): string {
  const all = { ...command.options, ...commonOptions }
  const lines = Object.entries(all).map(([name, spec]) => {
    const left = `  --${name}${spec.value ? ` ${spec.value}` : ''}`
    return `${left.padEnd(28)} ${spec.description}`
  })
  const usage = ['matrix-bgupdates', command.name, ...command.positionals, '[options]'].join(' ')
  const details = command.details ? `\n${command.details.trim()}\n` : ''
  return `${command.summary}\n\nUsage: ${usage}\n${details}\nOptions:\n${lines.join('\n')}\n`
}
