import { hostname } from 'node:os'
import {
  BackgroundUpdateRunner,
  DuplicateUpdateError,
  type Ed25519SigningKey,
  EVENT_RESIGN,
  EVENT_RESIGN_REVERT,
  eventResignJob,
  eventResignRevertJob,
  JobParameterError,
  MemoryKeyProvider,
  type OldVerifyKeyInput,
  type RunReport,
  type StorageAdapter,
  type UpdateBatchEvent,
} from 'matrix-background-updates'
import { type ResignWorkers, resignWorkers } from 'matrix-background-updates/node'
import type { Command } from '../command.js'
import { databaseTarget, type OpenDatabase, openDatabase } from '../database.js'
import { EXIT, OperationalError, oneLine, UsageError } from '../errors.js'
import { stopOnInterrupt } from '../interrupt.js'
import { type CliIo, notice, printJson, printLine } from '../io.js'
import { loadKeyFile } from '../key-file.js'
import { formatProgress, ProgressLine } from '../progress.js'
import { formatOutcomes } from '../status-text.js'
import { dryRunResign } from './resign-dry-run.js'
import {
  type ResignSettings,
  resignOptionSpecs,
  resignParams,
  resignSettings,
} from './resign-options.js'

/** `resign`: event_resign run here, against the database, holding its lease. */
export const resignCommand: Command = {
  name: 'resign',
  summary: 'Re-sign the events of this server with the current key, offline, against its database.',
  positionals: [],
  options: resignOptionSpecs,
  details: `Runs the event_resign update in this process. It takes the database's lease, so it refuses
to run while a homeserver's runner holds it. The first Ctrl-C lets the batch in flight finish and
stops; a second aborts it (it rolls back). Run the same command again to continue.
With --revert, runs event_resign_revert: it puts back the signatures earlier re-signs removed.
With --threads n, the events are parsed, checked and signed on n worker threads (a maintenance
window: the cores you can spare), with sodium-native when it is installed.
With --json, prints one JSON line per batch and a last one with the result.`,
  async run(args, io) {
    const settings = resignSettings(args)
    const target = databaseTarget(args, 'resign')
    const keys = await loadKeyFile(settings.keyFile, io)
    const keyProvider = buildKeyProvider(keys, settings.oldKey)
    const database = await openDatabase(target)
    try {
      if (settings.dryRun) return await dryRunResign(database.storage, settings, keyProvider, io)
      return await resign(database, settings, keyProvider, io)
    } finally {
      await database.close()
    }
  },
}

/**
 * The file's first key signs; its other keys and `--old-key` are old verify keys, which prove the
 * bytes of events in room versions 1 and 2.
 */
function buildKeyProvider(keys: Ed25519SigningKey[], oldKey: string | null): MemoryKeyProvider {
  const [current, ...others] = keys as [Ed25519SigningKey, ...Ed25519SigningKey[]]
  const now = Date.now()
  const old = new Map<string, OldVerifyKeyInput>()
  for (const key of others) old.set(key.keyId, { key: key.verifyKey, expired_ts: now })
  if (oldKey !== null) old.set(oldKey.split(' ')[0] as string, { key: oldKey, expired_ts: now })

  old.delete(current.keyId)
  return new MemoryKeyProvider(current, { oldVerifyKeys: [...old.values()] })
}

async function resign(
  database: OpenDatabase,
  settings: ResignSettings,
  keyProvider: MemoryKeyProvider,
  io: CliIo,
): Promise<number> {
  const runner = new BackgroundUpdateRunner({
    storage: database.storage,
    sleepEnabled: settings.sleepMs > 0,
    sleepDurationMs: Math.max(settings.sleepMs, 1),
    defaultBatchSize: settings.batchSize,
    leaseOwner: `matrix-bgupdates resign on ${hostname()} (pid ${process.pid})`,
  })
  const job = { serverName: settings.serverName, keyProvider }
  let offload: ResignWorkers | undefined
  if (settings.revert) runner.registerJob(eventResignRevertJob(job))
  else {
    offload = settings.threads > 0 ? resignWorkers({ threads: settings.threads }) : undefined
    runner.registerJob(eventResignJob({ ...job, offload }))
  }

  let report: RunReport
  let earlier: Record<string, number>
  let progress: ResignProgress
  try {
    earlier = await queueOrContinue(runner, database.storage, settings, io)
    progress = new ResignProgress(runner, settings, io)
    const interrupt = stopOnInterrupt(io, runner)
    try {
      report = await runner.runFor(Number.POSITIVE_INFINITY)
    } finally {
      interrupt.dispose()
      await progress.finish()
    }
  } finally {
    await offload?.close()
  }

  const outcomes = addOutcomes(earlier, progress.outcomes)
  return explainEnd(report, await database.storage.readProgress(updateOf(settings)), {
    outcomes,
    items: progress.items,
    settings,
    io,
    database,
  })
}

/** The update `resign` runs: event_resign, or event_resign_revert with `--revert`. */
function updateOf(settings: ResignSettings): string {
  return settings.revert ? EVENT_RESIGN_REVERT : EVENT_RESIGN
}

/** Queues the update, or continues the one queued already; resolves to its earlier counts. */
async function queueOrContinue(
  runner: BackgroundUpdateRunner,
  storage: StorageAdapter,
  settings: ResignSettings,
  io: CliIo,
): Promise<Record<string, number>> {
  const update = updateOf(settings)
  const queued = await storage.readProgress(update)
  if (queued === null) {
    await startUpdate(runner, settings)
    return {}
  }

  const same = queued.old_key === settings.oldKey && queued.before_ts === settings.beforeTs
  const given = settings.oldKey !== null || settings.beforeTs !== null
  if (given && !same) {
    throw new OperationalError(
      `${update} is queued already with other parameters; cancel it first: matrix-bgupdates cancel ${update}`,
    )
  }
  if (!settings.json) notice(io, `Continuing the ${update} queued already.`)
  return { ...((queued.counts ?? {}) as Record<string, number>) }
}

async function startUpdate(runner: BackgroundUpdateRunner, settings: ResignSettings) {
  try {
    await runner.startJob(updateOf(settings), resignParams(settings))
  } catch (error) {
    if (error instanceof JobParameterError) throw new UsageError(oneLine(error))
    if (error instanceof DuplicateUpdateError) throw new OperationalError(oneLine(error))
    throw error
  }
}

interface EndContext {
  readonly outcomes: Record<string, number>
  readonly items: number
  readonly settings: ResignSettings
  readonly io: CliIo
  readonly database: OpenDatabase
}

/** Turns the way the run ended into a message and an exit code. */
function explainEnd(report: RunReport, left: unknown, context: EndContext): number {
  const done = left === null
  const result = {
    type: 'result',
    done,
    ended_by: report.endedBy,
    items: context.items,
    outcomes: context.outcomes,
  }
  if (context.settings.json) printJson(context.io, result)

  if (done) {
    if (!context.settings.json) printDone(context)
    return EXIT.ok
  }
  if (report.endedBy === 'stopped') {
    notice(context.io, 'Stopped. Run the same command again to continue where it stopped.')
    return EXIT.interrupted
  }
  throw new OperationalError(whyNotDone(report, context.database))
}

function printDone(context: EndContext): void {
  const { revert } = context.settings
  const count = (revert ? context.outcomes.reverted : context.outcomes.resigned) ?? 0
  const update = updateOf(context.settings)
  printLine(context.io, `${update} is done: ${count} events ${revert ? 'reverted' : 're-signed'}.`)
  printLine(context.io, `Outcomes: ${formatOutcomes(context.outcomes)}`)
}

function whyNotDone(report: RunReport, database: OpenDatabase): string {
  switch (report.endedBy) {
    case 'standby':
      return `another process holds the background update lease of ${database.description} (a running homeserver?); stop its runner, or wait for its lease to expire`
    case 'disabled':
      return `background updates are disabled in ${database.description}; enable them first (matrix-bgupdates enable, against the server)`
    case 'aborted':
      return 'five batches failed in a row; see the errors above, then run again'
    default:
      return `the update is still queued (the run ended: ${report.endedBy}); run again to continue`
  }
}

function addOutcomes(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const sum: Record<string, number> = { ...a }
  for (const [kind, count] of Object.entries(b)) sum[kind] = (sum[kind] ?? 0) + count
  return sum
}

/** Follows the batches: a progress bar on a terminal, JSON lines with `--json`, errors always. */
class ResignProgress {
  items = 0
  outcomes: Record<string, number> = {}
  readonly #runner: BackgroundUpdateRunner
  readonly #io: CliIo
  readonly #json: boolean
  readonly #update: string
  readonly #line: ProgressLine
  readonly #startedAt = Date.now()
  #reports: Promise<void> = Promise.resolve()

  constructor(runner: BackgroundUpdateRunner, settings: ResignSettings, io: CliIo) {
    this.#runner = runner
    this.#io = io
    this.#json = settings.json
    this.#update = updateOf(settings)
    this.#line = new ProgressLine(io.stderr, io.stderrIsTty && !settings.json)
    runner.on('update:batch', (batch) => this.#onBatch(batch))
    runner.on('update:error', ({ error, transient }) => {
      if (!transient) notice(io, `\nA batch failed: ${oneLine(error)}`)
    })
  }

  /** Waits for the last report, and ends the progress line. */
  async finish(): Promise<void> {
    await this.#reports
    this.#line.finish()
  }

  #onBatch(batch: UpdateBatchEvent): void {
    if (batch.name !== this.#update) return
    this.items += batch.items
    this.outcomes = addOutcomes(this.outcomes, batch.outcomes)
    this.#reports = this.#reports.then(() => this.#report())
  }

  async #report(): Promise<void> {
    const current = (await this.#runner.status()).current_update
    const fraction = current?.fraction_done ?? null
    const elapsedMs = Math.max(Date.now() - this.#startedAt, 1)
    if (this.#json) {
      printJson(this.#io, {
        type: 'progress',
        items: this.items,
        fraction_done: fraction,
        outcomes: this.outcomes,
      })
      return
    }
    this.#line.draw(
      formatProgress({
        name: this.#update,
        items: this.items,
        ratePerSecond: (this.items * 1000) / elapsedMs,
        fractionDone: fraction,
        etaMs: current?.eta_ms ?? null,
      }),
    )
  }
}
