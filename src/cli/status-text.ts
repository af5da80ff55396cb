import type { AdminStatus, CurrentUpdate, DatabaseStatus } from './admin-client.js'
import { formatProgress } from './progress.js'

const numbers = new Intl.NumberFormat('en-US')

/** The progress line of a database's current update. */
export function updateProgressLine(database: string, update: CurrentUpdate): string {
  const rate = update.average_items_per_ms === null ? null : update.average_items_per_ms * 1000
  const line = formatProgress({
    name: update.name,
    items: update.total_item_count,
    ratePerSecond: rate,
    fractionDone: update.fraction_done ?? null,
    etaMs: update.eta_ms ?? null,
  })
  return `${database}: ${line}`
}

/** The outcomes of an update, by kind: `resigned 1,200, already-current 34`. */
export function formatOutcomes(outcomes: Readonly<Record<string, number>> | undefined): string {
  const entries = Object.entries(outcomes ?? {})
  if (entries.length === 0) return 'none yet'
  return entries.map(([kind, count]) => `${kind} ${numbers.format(count)}`).join(', ')
}

/** The databases a status names, in the server's order. */
export function databaseNames(status: AdminStatus): string[] {
  return [
    ...new Set([...Object.keys(status.databases ?? {}), ...Object.keys(status.current_updates)]),
  ]
}

/** Whether any database still has updates to run. */
export function hasPendingUpdates(status: AdminStatus): boolean {
  if (status.databases === undefined) return Object.keys(status.current_updates).length > 0
  return Object.values(status.databases).some((db) => db.pending_updates.length > 0)
}

/** The databases that stopped after five failures in a row, with their last error. */
export function abortedDatabases(status: AdminStatus): string[] {
  return Object.entries(status.databases ?? {})
    .filter(([, db]) => db.state === 'aborted')
    .map(([name, db]) => `${name}: ${db.last_error?.message ?? 'aborted'}`)
}

/** The status as a person reads it. */
export function formatStatus(status: AdminStatus): string {
  const lines = [`Background updates are ${status.enabled ? 'enabled' : 'disabled'}.`]
  for (const name of databaseNames(status)) {
    lines.push(...databaseLines(name, status.databases?.[name], status.current_updates[name]))
  }
  return lines.join('\n')
}

function databaseLines(
  name: string,
  db: DatabaseStatus | undefined,
  current: CurrentUpdate | undefined,
): string[] {
  const lines = [`${name}: ${db?.state ?? (current ? 'running' : 'idle')}`]
  if (current) {
    lines.push(`  ${updateProgressLine(name, current).slice(name.length + 2)}`)
    lines.push(`  outcomes: ${formatOutcomes(current.outcomes)}`)
  }
  if (db && db.pending_updates.length > 0) {
    lines.push(`  pending: ${db.pending_updates.join(', ')}`)
  }
  if (db?.last_error) {
    const where = db.last_error.update_name ? ` in ${db.last_error.update_name}` : ''
    lines.push(`  last error${where}: ${db.last_error.message}`)
  }
  return lines
}
