/**
 * matrix-background-updates: Synapse-compatible background updates for TypeScript homeservers.
 *
 * The root entry runs on Node, Bun, Deno and Cloudflare Workers. It imports no framework and no
 * database driver; SQLite, PostgreSQL, Node-only helpers and the test kit are subpath entries.
 *
 * @module
 */

export * from './adapters/index.js'
export * from './http/index.js'
export * from './jobs/index.js'
export * from './matrix/index.js'
export * from './runner/index.js'
