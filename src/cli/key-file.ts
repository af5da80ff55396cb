import {
  type Ed25519SigningKey,
  encodeVerifyKeyBase64,
  type SigningKey,
} from 'matrix-background-updates'
import { readSigningKeyFile } from 'matrix-background-updates/node'
import { OperationalError, oneLine } from './errors.js'
import { type CliIo, notice } from './io.js'

/**
 * Reads a Synapse signing key file, warning on stderr when every user may read it.
 *
 * @throws {OperationalError} The file cannot be read, is malformed or holds no key.
 */
export async function loadKeyFile(path: string, io: CliIo): Promise<Ed25519SigningKey[]> {
  const logger = {
    warn(details: object) {
      const mode = (details as { mode?: string }).mode ?? '?'
      notice(io, `warning: ${path} is readable by every user (mode ${mode}); chmod 600 it`)
    },
  }

  let keys: Ed25519SigningKey[]
  try {
    keys = await readSigningKeyFile(path, { logger })
  } catch (error) {
    const code = (error as { code?: unknown })?.code
    const reason = typeof code === 'string' && code.startsWith('E') ? code : oneLine(error)
    throw new OperationalError(`cannot read the key file ${path}: ${reason}`)
  }
  if (keys.length === 0) throw new OperationalError(`the key file ${path} holds no key`)
  return keys
}

/** A key's public half in the admin API's `old_key` format: `ed25519:<version> <base64>`. */
export function oldKeyFormat(key: SigningKey): string {
  return `${key.keyId} ${encodeVerifyKeyBase64(key.verifyKey)}`
}
