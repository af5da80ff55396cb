import {
  DuplicateUpdateError,
  type JsonObject,
  type QueuedUpdate,
  StoredRowError,
  UpdateHasDependentsError,
} from 'matrix-background-updates'
import { type PostgresQueryable, queryRows } from './postgres-driver.js'
import { column } from './postgres-rows.js'

interface QueueRow {
  readonly update_name: string
  readonly progress_json: string
  readonly depends_on: string | null
  readonly ordering: number
}

/**
 * The `background_updates` table: Synapse's queue. Every method runs on the queryable it is given,
 * so the adapter decides what shares a transaction.
 */
export class PostgresQueue {
  readonly #table: string

  /** Creates the queue over its qualified table name. */
  constructor(table: string) {
    this.#table = table
  }

  /** Every queued update, ordered by `ordering`, then by name (UTF-16 order, as the memory adapter). */
  async list(db: PostgresQueryable): Promise<QueuedUpdate[]> {
    const rows = await queryRows<QueueRow>(
      db,
      `SELECT update_name, progress_json, depends_on, ordering FROM ${this.#table}`,
    )

    return rows.map(toQueuedUpdate).sort(compareQueued)
  }

  /** The progress of a queued update, or null. */
  async readProgress(db: PostgresQueryable, updateName: string): Promise<JsonObject | null> {
    const [row] = await queryRows<{ progress_json: string }>(
      db,
      `SELECT progress_json FROM ${this.#table} WHERE update_name = $1`,
      [updateName],
    )

    return row ? parseProgress(updateName, row.progress_json) : null
  }

  /** Whether an update is queued, locking its row until the transaction ends. */
  async lock(db: PostgresQueryable, updateName: string): Promise<boolean> {
    const sql = `SELECT 1 AS found FROM ${this.#table} WHERE update_name = $1 FOR UPDATE`
    return (await queryRows(db, sql, [updateName])).length > 0
  }

  /**
   * Inserts rows in one statement, all or none; call inside a transaction, which the error rolls
   * back.
   *
   * @throws {DuplicateUpdateError} A name is queued already or appears twice.
   */
  async insert(db: PostgresQueryable, rows: readonly QueuedUpdate[]): Promise<void> {
    const names = column(rows, 'update_name')
    const twice = names.filter((name, index) => names.indexOf(name) !== index)
    if (twice.length > 0) throw new DuplicateUpdateError([...new Set(twice)])

    const inserted = await queryRows<{ update_name: string }>(
      db,
      `INSERT INTO ${this.#table} (update_name, progress_json, depends_on, ordering)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[])
       ON CONFLICT (update_name) DO NOTHING RETURNING update_name`,
      [
        names,
        rows.map((row) => JSON.stringify(row.progress)),
        column(rows, 'depends_on'),
        column(rows, 'ordering'),
      ],
    )
    if (inserted.length < rows.length) {
      const added = new Set(inserted.map((row) => row.update_name))
      throw new DuplicateUpdateError(names.filter((name) => !added.has(name)))
    }
  }

  /**
   * Removes a queued update; call inside a transaction.
   *
   * @throws {UpdateHasDependentsError} Another queued update depends on it.
   */
  async delete(db: PostgresQueryable, updateName: string): Promise<boolean> {
    await this.lock(db, updateName)
    const dependents = await queryRows<{ update_name: string }>(
      db,
      `SELECT update_name FROM ${this.#table} WHERE depends_on = $1 ORDER BY update_name COLLATE "C"`,
      [updateName],
    )
    if (dependents.length > 0) {
      throw new UpdateHasDependentsError(updateName, column(dependents, 'update_name'))
    }

    return this.complete(db, updateName)
  }

  /** Stores new progress of a queued update. */
  async writeProgress(
    db: PostgresQueryable,
    updateName: string,
    progress: JsonObject,
  ): Promise<void> {
    await db.query(`UPDATE ${this.#table} SET progress_json = $1 WHERE update_name = $2`, [
      JSON.stringify(progress),
      updateName,
    ])
  }

  /** Deletes an update's row, whatever depends on it; resolves whether it was there. */
  async complete(db: PostgresQueryable, updateName: string): Promise<boolean> {
    const result = await db.query(`DELETE FROM ${this.#table} WHERE update_name = $1`, [updateName])
    return (result.rowCount ?? 0) > 0
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
