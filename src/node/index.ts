/**
 * Node-only helpers: reading a Synapse signing key file from disk, and `resignWorkers()`, which runs
 * the re-sign pipeline on worker threads. Everything else of the library is in the root entry,
 * which runs on any runtime.
 *
 * @module
 */
import { readFile, stat } from 'node:fs/promises'
import { type Ed25519SigningKey, KeyFileError, readSigningKeys } from 'matrix-background-updates'

export {
  type ResignWorkerSigner,
  type ResignWorkers,
  type ResignWorkersOptions,
  resignWorkers,
} from './resign-workers.js'

/** The few methods of a pino-compatible logger this module uses. */
export interface WarningLogger {
  warn(object: object, message?: string): void
}

export interface ReadSigningKeyFileOptions {
  /** Told about a key file that other users can read. Silent when absent. */
  logger?: WarningLogger
  /** Refuse a world-readable key file instead of warning. Default false. */
  strictPermissions?: boolean
}

/**
 * Reads a Synapse signing key file (`ed25519 <version> <base64 seed>` per line; the first key is the
 * current one). A file readable by every user is reported through the logger, or refused with
 * `strictPermissions`; group-readable is fine, as Synapse writes its own key file 0640.
 *
 * @throws {KeyFileError} for a malformed line, or a world-readable file with `strictPermissions`.
 * @throws the file system's error (ENOENT, EACCES) when the file cannot be read.
 */
export async function readSigningKeyFile(
  path: string,
  options: ReadSigningKeyFileOptions = {},
): Promise<Ed25519SigningKey[]> {
  const info = await stat(path)
  const worldReadable = process.platform !== 'win32' && (info.mode & 0o004) !== 0

  if (worldReadable && options.strictPermissions === true) {
    throw new KeyFileError(0, `${path} is readable by every user; restrict it to mode 0600 or 0640`)
  }
  if (worldReadable) {
    options.logger?.warn(
      { path, mode: (info.mode & 0o777).toString(8) },
      'signing key file is world-readable',
    )
  }
  return readSigningKeys(await readFile(path, 'utf8'))
}
