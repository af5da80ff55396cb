/**
 * `matrix-bgupdates`, the operator's command line: the admin API of a running homeserver, offline
 * re-signing against its database, and signing key files. See docs/cli.md.
 *
 * @module
 */
import { runCli } from './cli.js'
import { processIo } from './io.js'

process.exitCode = await runCli(process.argv.slice(2), processIo())
