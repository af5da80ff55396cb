/**
 * The undo journal of a {@link MemoryStorageAdapter}. Inside {@link MemoryJournal.transaction}, every
 * change to a journaled table records how to undo it; a throw replays the undo steps in reverse, so
 * nothing of the transaction is left behind.
 */
export class MemoryJournal {
  #undo: Array<() => void> | null = null

  /** Records how to undo a change. Outside a transaction the change is final and nothing is kept. */
  record(undo: () => void): void {
    this.#undo?.push(undo)
  }

  /**
   * Runs `work` as one transaction: its changes stay if it returns, and are undone if it throws.
   *
   * @throws {Error} Whatever `work` throws, after the undo; or when transactions are nested.
   */
  transaction<T>(work: () => T): T {
    if (this.#undo) throw new Error('Memory transactions cannot be nested')

    const undo: Array<() => void> = []
    this.#undo = undo
    try {
      return work()
    } catch (error) {
      for (let index = undo.length - 1; index >= 0; index--) undo[index]?.()
      throw error
    } finally {
      this.#undo = null
    }
  }
}

/**
 * A keyed table whose changes are journaled, so they roll back with the transaction they belong to.
 * Values are stored as given: store copies when callers might mutate them.
 */
export class MemoryTable<K, V> {
  readonly #rows = new Map<K, V>()
  readonly #journal: MemoryJournal

  /** Creates an empty table that records its changes in `journal`. */
  constructor(journal: MemoryJournal) {
    this.#journal = journal
  }

  /** The number of rows. */
  get size(): number {
    return this.#rows.size
  }

  /** The row stored under `key`, or undefined. */
  get(key: K): V | undefined {
    return this.#rows.get(key)
  }

  /** Whether a row is stored under `key`. */
  has(key: K): boolean {
    return this.#rows.has(key)
  }

  /** Every row, in insertion order. */
  values(): IterableIterator<V> {
    return this.#rows.values()
  }

  /** Every key and row, in insertion order. */
  entries(): IterableIterator<[K, V]> {
    return this.#rows.entries()
  }

  /** Stores `value` under `key`, replacing any row. */
  set(key: K, value: V): void {
    this.#recordUndo(key)
    this.#rows.set(key, value)
  }

  /** Removes the row under `key`. Returns whether there was one. */
  delete(key: K): boolean {
    if (!this.#rows.has(key)) return false

    this.#recordUndo(key)
    return this.#rows.delete(key)
  }

  #recordUndo(key: K): void {
    const rows = this.#rows
    if (rows.has(key)) {
      const previous = rows.get(key) as V
      this.#journal.record(() => rows.set(key, previous))
    } else {
      this.#journal.record(() => rows.delete(key))
    }
  }
}
