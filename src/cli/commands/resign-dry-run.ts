import {
  EVENT_RESIGN_START,
  EventResigner,
  type EventRow,
  type EventsReader,
  type KeyProvider,
  parseVerifyKey,
  type StorageAdapter,
  type StoredEvent,
} from 'matrix-background-updates'
import { EXIT } from '../errors.js'
import { type CliIo, printJson, printLine } from '../io.js'
import { ProgressLine } from '../progress.js'
import { formatOutcomes } from '../status-text.js'
import type { ResignSettings } from './resign-options.js'

/**
 * Decides every event as event_resign would, and counts the outcomes, writing nothing. It reads
 * without the lease, so it may run beside a live homeserver.
 */
export async function dryRunResign(
  storage: StorageAdapter,
  settings: ResignSettings,
  keyProvider: KeyProvider,
  io: CliIo,
): Promise<number> {
  const reader = storage.reader('events') as EventsReader
  const resigner = new EventResigner({ keyProvider, serverName: settings.serverName })
  const oldKey = settings.oldKey === null ? undefined : parseVerifyKey(settings.oldKey)
  const line = new ProgressLine(io.stderr, io.stderrIsTty && !settings.json)
  const counts: Record<string, number> = {}
  const count = (kind: string) => {
    counts[kind] = (counts[kind] ?? 0) + 1
  }

  let after = EVENT_RESIGN_START
  for (;;) {
    const query = { serverName: settings.serverName, after, beforeTs: settings.beforeTs }
    const rows = await reader.pageOwnEvents({ ...query, limit: settings.batchSize })
    if (rows.length === 0) break

    const decidable: StoredEvent[] = []
    for (const row of rows.map(toStoredEvent)) {
      if (typeof row === 'string') count(row)
      else decidable.push(row)
    }
    const outcomes = await resigner.resign(decidable, { oldKey })
    for (const outcome of outcomes) count(outcome.status)
    after = (rows[rows.length - 1] as EventRow).stream_ordering
    line.draw(`event_resign (dry run): ${formatOutcomes(counts)}`)
  }

  line.finish()
  if (settings.json) printJson(io, { type: 'result', dry_run: true, outcomes: counts })
  else printLine(io, `Dry run: ${counts.resigned ?? 0} events would be re-signed.`)
  if (!settings.json) printLine(io, `Outcomes: ${formatOutcomes(counts)}`)
  return EXIT.ok
}

/** The event for the resigner, or the outcome of a row it never sees, as the job counts them. */
function toStoredEvent(row: EventRow): StoredEvent | 'rejected' | 'malformed' {
  if (row.rejected) return 'rejected'
  try {
    const roomVersion = row.room_version ?? ''
    return { event: JSON.parse(row.json), roomVersion, eventId: row.event_id }
  } catch {
    return 'malformed'
  }
}
