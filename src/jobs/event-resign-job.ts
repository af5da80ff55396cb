import {
  EVENTS_CAPABILITY,
  type EventRow,
  type EventsReader,
  REPLACE_EVENT_JSON,
  type ReplaceEventJsonRow,
} from '../adapters/capabilities/events.js'
import {
  APPEND_UNDO_LOG,
  UNDO_LOG_CAPABILITY,
  type UndoLogAppendRow,
} from '../adapters/capabilities/undo-log.js'
import type { StorageWrite, WriteReport } from '../adapters/capabilities.js'
import { type KeyProvider, loadCurrentKey } from '../adapters/key-provider.js'
import type { JsonObject } from '../matrix/canonical-json.js'
import type { VerifyKey } from '../matrix/keys.js'
import type { BatchContext, BatchResult, JobDefinition } from '../runner/job.js'
import { type Logger, silentLogger } from '../runner/logger.js'
import {
  type EventResignParams,
  parseOldKey,
  validateEventResignParams,
} from './event-resign-params.js'
import {
  EventResigner,
  type EventResignerOptions,
  type ResignTextOutcome,
} from './event-resigner.js'
import { addCounts, addKinds, notifyHost, type OutcomeCounts, readCounts } from './job-progress.js'
import type { ResignOffload, StoredEventText } from './resign-offload.js'
import { assertServerName } from './room-state.js'
import { logSkipped, type SkippedEvent } from './skip-log.js'

/** The name of the job and of its one update. */
export const EVENT_RESIGN = 'event_resign'

/** Where the scan starts: below every stream ordering Synapse uses, backfilled events included. */
export const EVENT_RESIGN_START = -(2 ** 31)

/** How to build the `event_resign` job. */
export interface EventResignJobOptions {
  /** Our server name: only events our users sent are re-signed. */
  readonly serverName: string

  /** Gives the current signing key and the old verify keys. */
  readonly keyProvider: KeyProvider

  /**
   * Called after each committed batch that rewrote events, with their IDs, so the host can drop
   * them from its caches. A throw or a rejection is logged and ignored.
   */
  readonly onEventsChanged?: (eventIds: readonly string[]) => unknown

  /** Where the job logs a refusal and failed callbacks. Default silent. */
  readonly logger?: Logger

  /**
   * Events of a batch in flight at once (default 16); see {@link EventResignerOptions.concurrency}
   * and docs/performance.md for a live server against a maintenance window.
   */
  readonly concurrency?: number

  /**
   * Decides and signs batches off the event loop, stored texts in and new texts out: give it
   * `resignWorkers({ threads })` of `matrix-background-updates/node`. See
   * {@link EventResignerOptions.offload}.
   */
  readonly offload?: ResignOffload
}

/** The progress of `event_resign`, as committed after each batch. */
interface ResignProgress {
  readonly last_stream_pos: number
  readonly old_key: string | null
  readonly before_ts: number | null
  readonly retry_event_ids: readonly string[]
  readonly counts: OutcomeCounts
}

/** The events of one batch, split as they are written. */
interface Examined {
  readonly retried: readonly EventRow[]
  readonly page: readonly EventRow[]
}

/** What the batch decided for one part (the retried events or the page). */
interface PartPlan {
  readonly kinds: string[]
  readonly skipped: SkippedEvent[]
  readonly undo: UndoLogAppendRow[]
  readonly replace: ReplaceEventJsonRow[]
}

/**
 * The `event_resign` job: re-signs our server's stored events with the current key after a key
 * rotation, as Synapse's `event_resign` background update does, without ever writing over a change
 * the host made meanwhile. See docs/jobs.md.
 *
 * Parameters: `old_key` (`"ed25519:<version> <base64>"`: only events with a verifying signature by
 * it) and `before_ts` (only events received before it). Needs the `events` and `undo_log`
 * capabilities.
 *
 * @throws {TypeError} `serverName` is not a non-empty string or `keyProvider` is not a KeyProvider.
 *
 * @example
 * ```ts
 * runner.registerJob(eventResignJob({ serverName: 'example.org', keyProvider }))
 * await runner.startJob('event_resign', { old_key: 'ed25519:a_Abc 0123…' })
 * ```
 */
export function eventResignJob(options: EventResignJobOptions): JobDefinition<EventResignParams> {
  assertServerName(options?.serverName)
  const resigner = new EventResigner(options)
  const logger = options.logger ?? silentLogger
  const readAhead = new ReadAhead()

  return {
    name: EVENT_RESIGN,
    startable: true,
    validate: (params) => validateEventResignParams(params, options.keyProvider),
    updates: [
      {
        name: EVENT_RESIGN,
        capabilities: [EVENTS_CAPABILITY, UNDO_LOG_CAPABILITY],
        initialProgress: (params) => ({
          last_stream_pos: EVENT_RESIGN_START,
          old_key: params.oldKey,
          before_ts: params.beforeTs,
          retry_event_ids: [],
          counts: {},
        }),
        handler: (context) => resignBatch(context, { ...options, resigner, logger, readAhead }),
      },
    ],
  }
}

interface HandlerDeps extends EventResignJobOptions {
  readonly resigner: EventResigner
  readonly logger: Logger
  readonly readAhead: ReadAhead
}

/** A page read and decided while the runner commits the batch before it. */
interface PlannedPage {
  readonly rows: readonly EventRow[]
  readonly plan: PartPlan
}

/**
 * The next page of the job, read and decided while the runner commits the batch before it, so
 * that the database's work and ours overlap. It is used only by a batch whose committed progress
 * starts where it starts (same database, position, `before_ts` and `old_key`); otherwise, or when
 * it failed, it is dropped and the page is read again. It is safe to use late: every write is
 * conditional on the event's text being the one read, so an event changed in between is skipped
 * and retried, as with any concurrent change.
 */
class ReadAhead {
  #key: string | undefined
  #page: Promise<PlannedPage | undefined> | undefined

  start(key: string, read: () => Promise<PlannedPage>): void {
    this.#key = key
    // A failure is not reported here: the batch that would use the page reads it again.
    this.#page = read().catch(() => undefined)
  }

  /** The page read ahead for `key`, or undefined; either way nothing is kept. */
  async take(key: string): Promise<PlannedPage | undefined> {
    const page = this.#key === key ? this.#page : undefined
    this.#key = undefined
    this.#page = undefined
    return page === undefined ? undefined : await page
  }
}

/** What identifies the page after `after` of one run of the job. */
function pageKey(context: BatchContext, progress: ResignProgress, after: number): string {
  const { database, updateName } = context
  return JSON.stringify([database, updateName, after, progress.before_ts, progress.old_key])
}

async function resignBatch(context: BatchContext, deps: HandlerDeps): Promise<BatchResult> {
  const progress = readProgress(context.progress)
  const oldKey = progress.old_key === null ? undefined : parseOldKey(progress.old_key)
  if (oldKey !== undefined && (await currentKeyIs(oldKey, deps))) return refuse(oldKey, deps)

  const events = context.storage.reader(EVENTS_CAPABILITY)
  const ahead = await deps.readAhead.take(pageKey(context, progress, progress.last_stream_pos))
  const examined = await readBatch(events, progress, context, deps.serverName, ahead?.rows)
  if (examined.retried.length === 0 && examined.page.length === 0) {
    return { items: 0, done: true, fractionDone: 1 }
  }

  const [retried, page] = await planBatch(examined, oldKey, deps, ahead?.plan)
  const last = examined.page.at(-1)?.stream_ordering ?? progress.last_stream_pos
  const result = {
    items: examined.retried.length + examined.page.length,
    writes: writesOf(retried, page),
    outcomes: (report: WriteReport) => committedOutcomes(report, retried, page, deps),
  }
  if (examined.page.length === 0) return { ...result, done: true, fractionDone: 1 }

  deps.readAhead.start(pageKey(context, progress, last), async () => {
    const next = { ...progress, last_stream_pos: last, retry_event_ids: [] }
    const rows = (await readBatch(events, next, context, deps.serverName)).page
    const [, plan] = await planBatch({ retried: [], page: rows }, oldKey, deps)
    return { rows, plan }
  })
  return {
    ...result,
    progress: (report) => nextProgress(report, progress, last, retried, page),
    fractionDone: await fractionDone(events, last, context.signal),
  }
}

/**
 * Reads and checks the committed progress.
 *
 * @throws {TypeError} A field has the wrong type (a progress row edited by hand).
 */
function readProgress(progress: JsonObject): ResignProgress {
  const last = progress.last_stream_pos ?? EVENT_RESIGN_START
  const retry = progress.retry_event_ids ?? []
  const oldKey = progress.old_key ?? null
  const beforeTs = progress.before_ts ?? null
  if (!Number.isSafeInteger(last)) throw new TypeError('last_stream_pos must be a safe integer')
  if (!Array.isArray(retry) || !retry.every((id) => typeof id === 'string')) {
    throw new TypeError('retry_event_ids must be a list of event IDs')
  }
  if (oldKey !== null && typeof oldKey !== 'string') throw new TypeError('old_key must be text')
  if (beforeTs !== null && !Number.isSafeInteger(beforeTs)) {
    throw new TypeError('before_ts must be a safe integer')
  }

  return {
    last_stream_pos: last as number,
    old_key: oldKey,
    before_ts: beforeTs as number | null,
    retry_event_ids: [...new Set(retry as string[])],
    counts: readCounts(progress, EVENT_RESIGN),
  }
}

async function currentKeyIs(oldKey: VerifyKey, deps: HandlerDeps): Promise<boolean> {
  const current = await loadCurrentKey(deps.keyProvider)
  return current.keyId === oldKey.keyId
}

/** The key was rotated back to `old_key`'s id since the job started: end at once, write nothing. */
function refuse(oldKey: VerifyKey, deps: HandlerDeps): BatchResult {
  deps.logger.warn(
    { update: EVENT_RESIGN, key_id: oldKey.keyId },
    'event_resign refused: the current signing key has the id of old_key',
  )
  return { items: 0, done: true, outcomes: { refused: 1 } }
}

/** The events to retry and the next page; `readAhead`, when given, is that page, read already. */
async function readBatch(
  events: EventsReader,
  progress: ResignProgress,
  context: BatchContext,
  serverName: string,
  readAhead?: readonly EventRow[],
): Promise<Examined> {
  const { signal, batchSize } = context
  const retried = progress.retry_event_ids.length
    ? await events.readEvents(progress.retry_event_ids, signal)
    : []
  const query = {
    serverName,
    after: progress.last_stream_pos,
    beforeTs: progress.before_ts,
    limit: Math.max(1, batchSize - retried.length),
  }
  const page = readAhead ?? (await events.pageOwnEvents(query, signal))
  for (const row of [...retried, ...page]) checkStreamOrdering(row)

  return { retried, page }
}

function checkStreamOrdering(row: EventRow): void {
  if (!Number.isSafeInteger(row.stream_ordering)) {
    throw new TypeError(`the store gave event ${row.event_id} a stream ordering that is unsafe`)
  }
}

/**
 * Decides every event of the batch, with one call of the resigner (so keys are read once), and
 * prepares the writes of each part.
 */
async function planBatch(
  examined: Examined,
  oldKey: VerifyKey | undefined,
  deps: HandlerDeps,
  pagePlan?: PartPlan,
): Promise<[PartPlan, PartPlan]> {
  const parts: [PartPlan, PartPlan] = [emptyPlan(), pagePlan ?? emptyPlan()]
  const candidates: Array<{ row: EventRow; stored: StoredEventText; part: PartPlan }> = []
  const rows = [
    ...examined.retried.map((row) => ({ row, part: parts[0] })),
    ...(pagePlan ? [] : examined.page.map((row) => ({ row, part: parts[1] }))),
  ]
  for (const { row, part } of rows) {
    if (row.rejected) part.kinds.push('rejected')
    else candidates.push({ row, stored: storedText(row), part })
  }
  if (candidates.length === 0) return parts

  const outcomes = await deps.resigner.resignTexts(
    candidates.map((candidate) => candidate.stored),
    { oldKey },
  )
  outcomes.forEach((outcome, index) => {
    const { row, part } = candidates[index] as (typeof candidates)[number]
    addOutcome(part, row, outcome, deps.serverName)
  })
  return parts
}

function emptyPlan(): PartPlan {
  return { kinds: [], skipped: [], undo: [], replace: [] }
}

function skipPart(part: PartPlan, eventId: string, reason: string, detail: string): void {
  part.kinds.push(reason)
  part.skipped.push({ event_id: eventId, reason, detail })
}

/** The event as the resigner takes it: the text is parsed there (or on the offload's threads). */
function storedText(row: EventRow): StoredEventText {
  return { json: row.json, roomVersion: row.room_version ?? '', eventId: row.event_id }
}

function addOutcome(part: PartPlan, row: EventRow, outcome: ResignTextOutcome, serverName: string) {
  if (outcome.status !== 'resigned') {
    skipPart(part, row.event_id, outcome.status, outcome.detail)
    return
  }

  part.undo.push({
    event_id: row.event_id,
    expected_json: row.json,
    server_name: serverName,
    removed_signatures: outcome.removedSignatures,
    added_key_id: outcome.keyId,
  })
  part.replace.push({
    event_id: row.event_id,
    expected_json: row.json,
    json: outcome.json,
  })
}

/**
 * The writes of a batch, always four and in this order, so the report tells the retried events
 * from the page: each undo entry is appended only where its event is rewritten (same condition).
 */
function writesOf(retried: PartPlan, page: PartPlan): StorageWrite[] {
  return [
    { capability: UNDO_LOG_CAPABILITY, op: APPEND_UNDO_LOG, rows: retried.undo },
    { capability: EVENTS_CAPABILITY, op: REPLACE_EVENT_JSON, rows: retried.replace },
    { capability: UNDO_LOG_CAPABILITY, op: APPEND_UNDO_LOG, rows: page.undo },
    { capability: EVENTS_CAPABILITY, op: REPLACE_EVENT_JSON, rows: page.replace },
  ]
}

function skippedIds(report: WriteReport, index: number): string[] {
  const skipped = (report.writes[index]?.skipped ?? []) as ReplaceEventJsonRow[]
  return skipped.map((row) => row.event_id)
}

/** The outcomes of a batch, once its writes are known. Page events skipped are counted on retry. */
function batchCounts(report: WriteReport, retried: PartPlan, page: PartPlan): OutcomeCounts {
  const changedAgain = skippedIds(report, 1).length
  const toRetry = skippedIds(report, 3).length
  const resigned = retried.replace.length - changedAgain + page.replace.length - toRetry
  const counts = addKinds(addKinds({}, retried.kinds), page.kinds)
  if (resigned > 0) counts.resigned = resigned
  if (changedAgain > 0) counts['changed-concurrently'] = changedAgain
  return counts
}

function nextProgress(
  report: WriteReport,
  progress: ResignProgress,
  last: number,
  retried: PartPlan,
  page: PartPlan,
): JsonObject {
  return {
    last_stream_pos: last,
    old_key: progress.old_key,
    before_ts: progress.before_ts,
    retry_event_ids: skippedIds(report, 3),
    counts: addCounts(progress.counts, batchCounts(report, retried, page)),
  }
}

/** Called by the runner after the commit: tells the host which events changed. */
function committedOutcomes(
  report: WriteReport,
  retried: PartPlan,
  page: PartPlan,
  deps: HandlerDeps,
): OutcomeCounts {
  logSkipped(deps.logger, EVENT_RESIGN, [...retried.skipped, ...page.skipped])
  const notWritten = new Set([...skippedIds(report, 1), ...skippedIds(report, 3)])
  const changed = [...retried.replace, ...page.replace]
    .map((row) => row.event_id)
    .filter((id) => !notWritten.has(id))
  if (changed.length > 0) notifyHost(deps.logger, 'onEventsChanged', deps.onEventsChanged, changed)

  return batchCounts(report, retried, page)
}

async function fractionDone(
  events: EventsReader,
  last: number,
  signal: AbortSignal,
): Promise<number | null> {
  const bounds = await events.streamOrderingBounds(signal)
  if (bounds === null) return null

  const span = bounds.max - bounds.min + 1
  return Math.min(1, Math.max(0, (last - bounds.min + 1) / span))
}
