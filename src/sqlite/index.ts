/**
 * `matrix-background-updates/sqlite`: the SQLite storage adapter over better-sqlite3, an optional
 * peer dependency that only this entry loads.
 *
 * @module
 */
export * from '../adapters/sqlite/index.js'
