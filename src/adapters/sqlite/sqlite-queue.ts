import {
  DuplicateUpdateError,
  type JsonObject,
  type QueuedUpdate,
  StoredRowError,
  UpdateHasDependentsError,
} from 'matrix-background-updates'
import type { SqliteCapabilityContext } from './sqlite-capability.js'

interface QueueRow {
  readonly update_name: string
  readonly progress_json: string
  readonly depends_on: string | null
  readonly ordering: number
}

/** The `background_updates` table: Synapse's queue, read and written synchronously. */
export class SqliteQueue {
  readonly #context: SqliteCapabilityContext
  readonly #table: string

  /** Creates the queue of an adapter. */
  constructor(context: SqliteCapabilityContext) {
    this.#context = context
    this.#table = context.table('background_updates')
  }

  /** Every queued update, ordered by `ordering`, then by name (UTF-16 order, as the memory adapter). */
  list(): QueuedUpdate[] {
    const rows = this.#context
      .statement(`SELECT update_name, progress_json, depends_on, ordering FROM ${this.#table}`)
      .all() as QueueRow[]

    return rows.map(toQueuedUpdate).sort(compareQueued)
  }

  /** The progress of a queued update, or null. */
  readProgress(updateName: string): JsonObject | null {
    const row = this.#context
      .statement(`SELECT progress_json FROM ${this.#table} WHERE update_name = ?`)
      .get(updateName) as { progress_json: string } | undefined

    return row ? parseProgress(updateName, row.progress_json) : null
  }

  /** Whether an update is queued. */
  has(updateName: string): boolean {
    return (
      this.#context
        .statement(`SELECT 1 AS found FROM ${this.#table} WHERE update_name = ?`)
        .get(updateName) !== undefined
    )
  }

  /**
   * Inserts rows, all or none; call inside a transaction.
   *
   * @throws {DuplicateUpdateError} A name is queued already or appears twice.
   */
  insert(rows: readonly QueuedUpdate[]): void {
    const names = rows.map((row) => row.update_name)
    const duplicates = names.filter(
      (name, index) => this.has(name) || names.indexOf(name) !== index,
    )
    if (duplicates.length > 0) throw new DuplicateUpdateError([...new Set(duplicates)])

    const insert = this.#context.statement(
      `INSERT INTO ${this.#table} (update_name, progress_json, depends_on, ordering) VALUES (?, ?, ?, ?)`,
    )
    for (const row of rows) {
      insert.run(row.update_name, JSON.stringify(row.progress), row.depends_on, row.ordering)
    }
  }

  /**
   * Removes a queued update; call inside a transaction.
   *
   * @throws {UpdateHasDependentsError} Another queued update depends on it.
   */
  delete(updateName: string): boolean {
    const dependents = this.#context
      .statement(`SELECT update_name FROM ${this.#table} WHERE depends_on = ? ORDER BY update_name`)
      .all(updateName) as { update_name: string }[]
    if (dependents.length > 0) {
      throw new UpdateHasDependentsError(
        updateName,
        dependents.map((row) => row.update_name),
      )
    }

    return this.#remove(updateName)
  }

  /** Stores new progress of a queued update. */
  writeProgress(updateName: string, progress: JsonObject): void {
    this.#context
      .statement(`UPDATE ${this.#table} SET progress_json = ? WHERE update_name = ?`)
      .run(JSON.stringify(progress), updateName)
  }

  /** Deletes a finished update's row, whatever depends on it. */
  complete(updateName: string): void {
    this.#remove(updateName)
  }

  #remove(updateName: string): boolean {
    const result = this.#context
      .statement(`DELETE FROM ${this.#table} WHERE update_name = ?`)
      .run(updateName)

    return result.changes > 0
  }
}

function toQueuedUpdate(row: QueueRow): QueuedUpdate {
  return {
    update_name: row.update_name,
    progress: parseProgress(row.update_name, row.progress_json),
    depends_on: row.depends_on,
    ordering: row.ordering,
  }
}

function parseProgress(updateName: string, text: string): JsonObject {
  let progress: unknown
  try {
    progress = JSON.parse(text)
  } catch {
    throw new StoredRowError('background_updates', `progress_json of ${updateName} is not JSON`)
  }
  if (typeof progress !== 'object' || progress === null || Array.isArray(progress)) {
    throw new StoredRowError(
      'background_updates',
      `progress_json of ${updateName} is not a JSON object`,
    )
  }

  return progress as JsonObject
}

function compareQueued(a: QueuedUpdate, b: QueuedUpdate): number {
  if (a.ordering !== b.ordering) return a.ordering - b.ordering

  return a.update_name < b.update_name ? -1 : a.update_name > b.update_name ? 1 : 0
}
