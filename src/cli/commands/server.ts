import { adminClientFor, serverDetails, serverOptions } from '../admin-client.js'
import { type Command, type CommandArgs, flag, stringOption } from '../command.js'
import { EXIT, OperationalError } from '../errors.js'
import { type CliIo, printJson, printLine } from '../io.js'
import { ProgressLine } from '../progress.js'
import {
  abortedDatabases,
  databaseNames,
  formatStatus,
  hasPendingUpdates,
  updateProgressLine,
} from '../status-text.js'
import { parseBeforeTs, parseOldKeyOption, parsePositiveInteger } from '../values.js'

/** `status`: the admin API's status, as text or JSON. */
export const statusCommand: Command = {
  name: 'status',
  summary: 'Show the background updates of a running homeserver.',
  positionals: [],
  options: serverOptions,
  details: serverDetails,
  async run(args, io) {
    const status = await adminClientFor(args, io, 'status').status()
    if (flag(args, 'json')) printJson(io, status)
    else printLine(io, formatStatus(status))
    return EXIT.ok
  },
}

function enabledCommand(enabled: boolean): Command {
  const name = enabled ? 'enable' : 'disable'
  return {
    name,
    summary: enabled
      ? 'Enable background updates on every database of a running homeserver.'
      : 'Disable background updates; the batch in flight finishes, no further one starts.',
    positionals: [],
    options: serverOptions,
    details: serverDetails,
    async run(args, io) {
      const now = await adminClientFor(args, io, name).setEnabled(enabled)
      if (flag(args, 'json')) printJson(io, { enabled: now })
      else printLine(io, `Background updates are ${now ? 'enabled' : 'disabled'}.`)
      return EXIT.ok
    },
  }
}

/** `enable`. */
export const enableCommand = enabledCommand(true)

/** `disable`. */
export const disableCommand = enabledCommand(false)

/** `start-job <name>`: queues a startable job, with event_resign's parameters when given. */
export const startJobCommand: Command = {
  name: 'start-job',
  summary: 'Queue a background update job on a running homeserver.',
  positionals: ['<name>'],
  options: {
    ...serverOptions,
    'old-key': {
      type: 'string',
      value: '<key>',
      description: "event_resign: only events signed by this key ('ed25519:<version> <base64>').",
    },
    'before-ts': {
      type: 'string',
      value: '<ms|date>',
      description: 'event_resign: only events received before this time (ms or ISO 8601).',
    },
  },
  details: `${serverDetails}\nJobs: event_resign, populate_stats_process_rooms, regenerate_directory, and the host's own.`,
  async run(args, io) {
    const [name] = args.positionals as [string]
    const params = jobParams(args)
    await adminClientFor(args, io, 'start-job').startJob(name, params)
    if (flag(args, 'json')) printJson(io, { started: name, ...params })
    else printLine(io, `Queued ${name}.`)
    return EXIT.ok
  },
}

/** The parameters `--old-key` and `--before-ts` give a job. */
export function jobParams(args: CommandArgs): Record<string, unknown> {
  const params: Record<string, unknown> = {}
  const oldKey = stringOption(args, 'old-key')
  const beforeTs = stringOption(args, 'before-ts')
  if (oldKey !== undefined) params.old_key = parseOldKeyOption(oldKey)
  if (beforeTs !== undefined) params.before_ts = parseBeforeTs(beforeTs)
  return params
}

/** `watch`: live progress until no database has pending updates. */
export const watchCommand: Command = {
  name: 'watch',
  summary: 'Follow the background updates of a running homeserver until none is pending.',
  positionals: [],
  options: {
    ...serverOptions,
    interval: { type: 'string', value: '<ms>', description: 'Time between polls (default 1000).' },
  },
  details: `${serverDetails}\nExits 0 when no database has pending updates, 1 when a database aborted.
With --json, prints each status polled as one line of JSON.`,
  async run(args, io) {
    const interval = parsePositiveInteger(stringOption(args, 'interval') ?? '1000', 'interval')
    const client = adminClientFor(args, io, 'watch')
    const line = new ProgressLine(io.stderr, io.stderrIsTty)
    try {
      await watchUntilDone(() => client.status(), { interval, io, line, json: flag(args, 'json') })
    } finally {
      line.finish()
    }
    if (!flag(args, 'json')) printLine(io, 'No background updates are pending.')
    return EXIT.ok
  },
}

interface WatchContext {
  readonly interval: number
  readonly io: CliIo
  readonly line: ProgressLine
  readonly json: boolean
}

async function watchUntilDone(
  poll: () => ReturnType<ReturnType<typeof adminClientFor>['status']>,
  context: WatchContext,
): Promise<void> {
  for (;;) {
    const status = await poll()
    if (context.json) printJson(context.io, status)

    const aborted = abortedDatabases(status)
    if (aborted.length > 0) throw new OperationalError(`aborted after failures: ${aborted[0]}`)
    if (!hasPendingUpdates(status)) return

    const shown = databaseNames(status)
      .filter((db) => status.current_updates[db] !== undefined)
      .map((db) => updateProgressLine(db, status.current_updates[db] as never))
    const paused = status.enabled ? '' : ' (disabled)'
    context.line.draw(`${shown.join(' | ') || 'waiting for the runner'}${paused}`)
    await new Promise((resolve) => setTimeout(resolve, context.interval))
  }
}
