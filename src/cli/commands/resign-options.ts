import {
  type CommandArgs,
  flag,
  type OptionSpec,
  requiredOption,
  stringOption,
} from '../command.js'
import { databaseOptions } from '../database.js'
import { UsageError } from '../errors.js'
import { parseBeforeTs, parseOldKeyOption, parsePositiveInteger } from '../values.js'

/** The options of `resign`. */
export const resignOptionSpecs: Readonly<Record<string, OptionSpec>> = {
  ...databaseOptions,
  'key-file': {
    type: 'string',
    value: '<file>',
    description: 'The Synapse signing key file; its first key is the new, current one.',
  },
  'server-name': {
    type: 'string',
    value: '<name>',
    description: "The homeserver's server name: only its users' events are re-signed.",
  },
  'old-key': {
    type: 'string',
    value: '<key>',
    description: "Only events signed by this key ('ed25519:<version> <base64>').",
  },
  'before-ts': {
    type: 'string',
    value: '<ms|date>',
    description: 'Only events received before this time (ms since the epoch or ISO 8601).',
  },
  revert: {
    type: 'boolean',
    description: 'Undo earlier re-signs from the undo log instead (event_resign_revert).',
  },
  'dry-run': {
    type: 'boolean',
    description: 'Count what would be re-signed; write nothing and take no lease.',
  },
  'batch-size': {
    type: 'string',
    value: '<n>',
    description: 'The size of the first batch; later ones are tuned to ~100 ms (default 100).',
  },
  'sleep-ms': {
    type: 'string',
    value: '<ms>',
    description: 'Pause before each batch, to spare a busy database (default 0).',
  },
  threads: {
    type: 'string',
    value: '<n>',
    description:
      'Decide and sign on n worker threads, with sodium-native when it is installed (default 0: on the main thread).',
  },
}

/** The checked options of `resign`. */
export interface ResignSettings {
  readonly keyFile: string
  readonly serverName: string
  readonly oldKey: string | null
  readonly beforeTs: number | null
  readonly dryRun: boolean
  /** Run `event_resign_revert` instead of `event_resign`. */
  readonly revert: boolean
  readonly batchSize: number
  readonly sleepMs: number
  /** Worker threads for the re-sign pipeline; 0 runs it on the main thread. */
  readonly threads: number
  readonly json: boolean
}

/**
 * Checks the options of `resign`.
 *
 * @throws {UsageError} One is missing or malformed.
 */
export function resignSettings(args: CommandArgs): ResignSettings {
  const oldKey = stringOption(args, 'old-key')
  const beforeTs = stringOption(args, 'before-ts')
  const revert = flag(args, 'revert')
  if (revert && (oldKey !== undefined || beforeTs !== undefined || flag(args, 'dry-run'))) {
    throw new UsageError('--revert takes no --old-key, --before-ts or --dry-run')
  }
  const threads = parsePositiveInteger(stringOption(args, 'threads') ?? '0', 'threads', true)
  if (threads > 0 && (revert || flag(args, 'dry-run'))) {
    throw new UsageError('--threads applies to a re-sign, not to --revert or --dry-run')
  }
  return {
    keyFile: requiredOption(args, 'key-file', 'resign'),
    serverName: requiredOption(args, 'server-name', 'resign'),
    oldKey: oldKey === undefined ? null : parseOldKeyOption(oldKey),
    beforeTs: beforeTs === undefined ? null : parseBeforeTs(beforeTs),
    dryRun: flag(args, 'dry-run'),
    revert,
    batchSize: parsePositiveInteger(stringOption(args, 'batch-size') ?? '100', 'batch-size'),
    sleepMs: parsePositiveInteger(stringOption(args, 'sleep-ms') ?? '0', 'sleep-ms', true),
    threads,
    json: flag(args, 'json'),
  }
}

/** The job parameters the settings give, as the admin API's `start_job` takes them. */
export function resignParams(settings: ResignSettings): Record<string, unknown> {
  const params: Record<string, unknown> = {}
  if (settings.oldKey !== null) params.old_key = settings.oldKey
  if (settings.beforeTs !== null) params.before_ts = settings.beforeTs
  return params
}
