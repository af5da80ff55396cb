import {
  EVENTS_CAPABILITY,
  type EventRow,
  REPLACE_EVENT_JSON,
  type ReplaceEventJsonRow,
} from '../adapters/capabilities/events.js'
import {
  REMOVE_UNDO_LOG,
  UNDO_LOG_CAPABILITY,
  type UndoLogEntry,
  type UndoLogRemoveRow,
} from '../adapters/capabilities/undo-log.js'
import type { StorageWrite, WriteReport } from '../adapters/capabilities.js'
import { type KeyProvider, loadCurrentKey, loadOldVerifyKeys } from '../adapters/key-provider.js'
import type { JsonObject } from '../matrix/canonical-json.js'
import { isJsonObject } from '../matrix/redaction.js'
import { JobParameterError } from '../runner/errors.js'
import type { BatchContext, BatchResult, JobDefinition } from '../runner/job.js'
import { type Logger, silentLogger } from '../runner/logger.js'
import { decideRevert, type RevertContext } from './event-signature-revert.js'
import { addCounts, addKinds, notifyHost, type OutcomeCounts, readCounts } from './job-progress.js'
import { assertServerName } from './room-state.js'
import { logSkipped, type SkippedEvent } from './skip-log.js'

/** The name of the job and of its one update. */
export const EVENT_RESIGN_REVERT = 'event_resign_revert'

/** How to build the `event_resign_revert` job. */
export interface EventResignRevertJobOptions {
  /** Our server name: only its undo log entries are reverted. */
  readonly serverName: string

  /** Gives the verify keys that may prove the bytes of a version 1 or 2 event. */
  readonly keyProvider: KeyProvider

  /**
   * Called after each committed batch that rewrote events, with their IDs, so the host can drop
   * them from its caches. A throw or a rejection is logged and ignored.
   */
  readonly onEventsChanged?: (eventIds: readonly string[]) => unknown

  /** Where the job logs the entries it leaves and failed callbacks. Default silent. */
  readonly logger?: Logger
}

/** The progress of `event_resign_revert`, as committed after each batch. */
interface RevertProgress {
  readonly last_id: number
  readonly retry: readonly UndoLogEntry[]
  readonly counts: OutcomeCounts
}

/** What the batch decided for one part (the retried entries or the page). */
interface PartPlan {
  readonly kinds: string[]
  readonly skipped: SkippedEvent[]
  readonly remove: UndoLogRemoveRow[]
  readonly replace: ReplaceEventJsonRow[]
  readonly entries: Map<string, UndoLogEntry>
}

/** A batch's plan: the two parts, and entries put off to the next batch. */
interface BatchPlan {
  readonly retried: PartPlan
  readonly page: PartPlan
  readonly deferred: UndoLogEntry[]
}

/**
 * The `event_resign_revert` job: undoes `event_resign` from its undo log. For each entry of our
 * server, oldest first, it removes the signature the re-sign added and puts back the signatures it
 * removed, and deletes the entry, in one transaction and only where the event's stored text is
 * still the one read; other servers' signatures, the content, the hashes and the event ID stay as
 * they are. An event re-signed twice gets back the signatures of its latest re-sign only: a
 * second run undoes the one before. See docs/jobs.md.
 *
 * Takes no parameters. Needs the `events` and `undo_log` capabilities.
 *
 * @throws {TypeError} `serverName` is not a non-empty string or `keyProvider` is not a KeyProvider.
 *
 * @example
 * ```ts
 * runner.registerJob(eventResignRevertJob({ serverName: 'example.org', keyProvider }))
 * await runner.startJob('event_resign_revert', {})
 * ```
 */
export function eventResignRevertJob(options: EventResignRevertJobOptions): JobDefinition<null> {
  assertServerName(options?.serverName)
  assertKeyProvider(options.keyProvider)
  const deps = { ...options, logger: options.logger ?? silentLogger }

  return {
    name: EVENT_RESIGN_REVERT,
    startable: true,
    validate: (params) => validateNoParams(params, EVENT_RESIGN_REVERT),
    updates: [
      {
        name: EVENT_RESIGN_REVERT,
        capabilities: [EVENTS_CAPABILITY, UNDO_LOG_CAPABILITY],
        initialProgress: () => ({ last_id: 0, retry: [], counts: {} }),
        handler: (context) => revertBatch(context, deps),
      },
    ],
  }
}

interface HandlerDeps extends EventResignRevertJobOptions {
  readonly logger: Logger
}

function assertKeyProvider(provider: unknown): void {
  const candidate = provider as Partial<KeyProvider> | undefined
  if (
    typeof candidate?.currentKey !== 'function' ||
    typeof candidate.oldVerifyKeys !== 'function'
  ) {
    throw new TypeError('keyProvider must have currentKey() and oldVerifyKeys()')
  }
}

/**
 * Refuses every parameter but the admin API's `job_name`.
 *
 * @throws {JobParameterError} Parameters that are not an object, or any field.
 */
export function validateNoParams(params: unknown, jobName: string): null {
  if (params === undefined || params === null) return null
  if (!isJsonObject(params)) {
    throw new JobParameterError('params', `The parameters of ${jobName} must be a JSON object`)
  }

  const field = Object.keys(params).find((name) => name !== 'job_name')
  if (field === undefined) return null
  throw new JobParameterError(
    field,
    `'${field}' is not a parameter of ${jobName}, which takes none`,
  )
}

async function revertBatch(context: BatchContext, deps: HandlerDeps): Promise<BatchResult> {
  const progress = readProgress(context.progress)
  const undoLog = context.storage.reader(UNDO_LOG_CAPABILITY)
  const limit = Math.max(1, context.batchSize - progress.retry.length)
  const page = await undoLog.page(progress.last_id, limit, context.signal)
  if (progress.retry.length === 0 && page.length === 0) return { items: 0, done: true }

  const plan = await planBatch(progress.retry, page, context, deps)
  const lastId = page.at(-1)?.id ?? progress.last_id
  const result = {
    items: progress.retry.length + page.length,
    writes: writesOf(plan),
    outcomes: (report: WriteReport) => committedOutcomes(report, plan, deps),
  }
  if (page.length === 0 && plan.deferred.length === 0) return { ...result, done: true }

  return { ...result, progress: (report) => nextProgress(report, progress, lastId, plan) }
}

/**
 * Reads and checks the committed progress.
 *
 * @throws {TypeError} A field has the wrong type (a progress row edited by hand).
 */
function readProgress(progress: JsonObject): RevertProgress {
  const lastId = progress.last_id ?? 0
  const retry = progress.retry ?? []
  if (!Number.isSafeInteger(lastId)) throw new TypeError('last_id must be a safe integer')
  if (!Array.isArray(retry) || !retry.every(isEntry)) {
    throw new TypeError('retry must be a list of undo log entries')
  }

  return {
    last_id: lastId as number,
    retry: retry as unknown as UndoLogEntry[],
    counts: readCounts(progress, EVENT_RESIGN_REVERT),
  }
}

function isEntry(value: unknown): boolean {
  return (
    isJsonObject(value) &&
    Number.isSafeInteger(value.id) &&
    typeof value.event_id === 'string' &&
    typeof value.server_name === 'string' &&
    typeof value.added_key_id === 'string' &&
    isJsonObject(value.removed_signatures)
  )
}

async function planBatch(
  retry: readonly UndoLogEntry[],
  page: readonly UndoLogEntry[],
  context: BatchContext,
  deps: HandlerDeps,
): Promise<BatchPlan> {
  const rows = await readRows([...retry, ...page], context)
  const decide: RevertContext = { serverName: deps.serverName, knownKeys: await knownKeys(deps) }
  const plan: BatchPlan = { retried: emptyPart(), page: emptyPart(), deferred: [] }
  const planned = new Set<string>()
  const parts = [
    ...retry.map((entry) => ({ entry, part: plan.retried })),
    ...page.map((entry) => ({ entry, part: plan.page })),
  ]
  for (const { entry, part } of parts) {
    // One rewrite per event and batch: a second entry of the event is decided on the new text.
    if (planned.has(entry.event_id)) {
      plan.deferred.push(entry)
      continue
    }

    const row = rows.get(entry.event_id)
    const decision = await decideRevert(entry, row, decide)
    if (decision.status !== 'reverted') {
      part.kinds.push(decision.status)
      part.skipped.push({
        event_id: entry.event_id,
        reason: decision.status,
        detail: decision.detail,
      })
      continue
    }

    planned.add(entry.event_id)
    addRevert(part, entry, row as EventRow, decision.json)
  }
  return plan
}

async function readRows(entries: readonly UndoLogEntry[], context: BatchContext) {
  const ids = [...new Set(entries.map((entry) => entry.event_id))]
  const events = context.storage.reader(EVENTS_CAPABILITY)
  const rows = ids.length === 0 ? [] : await events.readEvents(ids, context.signal)
  return new Map(rows.map((row) => [row.event_id, row]))
}

async function knownKeys(deps: HandlerDeps) {
  const current = await loadCurrentKey(deps.keyProvider)
  const old = await loadOldVerifyKeys(deps.keyProvider)
  return [current.verifyKey, ...old]
}

function emptyPart(): PartPlan {
  return { kinds: [], skipped: [], remove: [], replace: [], entries: new Map() }
}

function addRevert(part: PartPlan, entry: UndoLogEntry, row: EventRow, json: string): void {
  part.entries.set(entry.event_id, entry)
  part.remove.push({ id: entry.id, event_id: entry.event_id, expected_json: row.json })
  part.replace.push({ event_id: entry.event_id, expected_json: row.json, json })
}

/**
 * The writes of a batch, always four and in this order, so the report tells the retried entries
 * from the page: each entry is removed only where its event is rewritten (same condition).
 */
function writesOf(plan: BatchPlan): StorageWrite[] {
  return [
    { capability: UNDO_LOG_CAPABILITY, op: REMOVE_UNDO_LOG, rows: plan.retried.remove },
    { capability: EVENTS_CAPABILITY, op: REPLACE_EVENT_JSON, rows: plan.retried.replace },
    { capability: UNDO_LOG_CAPABILITY, op: REMOVE_UNDO_LOG, rows: plan.page.remove },
    { capability: EVENTS_CAPABILITY, op: REPLACE_EVENT_JSON, rows: plan.page.replace },
  ]
}

function skippedIds(report: WriteReport, index: number): string[] {
  const skipped = (report.writes[index]?.skipped ?? []) as ReplaceEventJsonRow[]
  return skipped.map((row) => row.event_id)
}

/** The outcomes of a batch, once its writes are known. Page entries skipped count on retry. */
function batchCounts(report: WriteReport, plan: BatchPlan): OutcomeCounts {
  const changedAgain = skippedIds(report, 1).length
  const toRetry = skippedIds(report, 3).length
  const reverted = plan.retried.replace.length - changedAgain + plan.page.replace.length - toRetry
  const counts = addKinds(addKinds({}, plan.retried.kinds), plan.page.kinds)
  if (reverted > 0) counts.reverted = reverted
  if (changedAgain > 0) counts['changed-concurrently'] = changedAgain
  return counts
}

function nextProgress(
  report: WriteReport,
  progress: RevertProgress,
  lastId: number,
  plan: BatchPlan,
): JsonObject {
  const retry = skippedIds(report, 3).map((id) => plan.page.entries.get(id) as UndoLogEntry)
  return {
    last_id: lastId,
    retry: [...retry, ...plan.deferred] as unknown as JsonObject[],
    counts: addCounts(progress.counts, batchCounts(report, plan)),
  }
}

/** Called by the runner after the commit: logs what stays, tells the host which events changed. */
function committedOutcomes(report: WriteReport, plan: BatchPlan, deps: HandlerDeps): OutcomeCounts {
  logSkipped(deps.logger, EVENT_RESIGN_REVERT, [...plan.retried.skipped, ...plan.page.skipped])
  const notWritten = new Set([...skippedIds(report, 1), ...skippedIds(report, 3)])
  const changed = [...plan.retried.replace, ...plan.page.replace]
    .map((row) => row.event_id)
    .filter((id) => !notWritten.has(id))
  if (changed.length > 0) notifyHost(deps.logger, 'onEventsChanged', deps.onEventsChanged, changed)

  return batchCounts(report, plan)
}
