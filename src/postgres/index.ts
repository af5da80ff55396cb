/**
 * `matrix-background-updates/postgres`: the PostgreSQL storage adapter over `pg` 8, an optional
 * peer dependency that only this entry loads.
 *
 * @module
 */
export * from '../adapters/postgres/index.js'
