import { type KeyProvider, loadCurrentKey } from '../adapters/key-provider.js'
import { parseVerifyKey, type VerifyKey } from '../matrix/keys.js'
import { JobParameterError } from '../runner/errors.js'

/** The validated parameters of `event_resign`. */
export interface EventResignParams {
  /** The `old_key` filter, as the string given (`"ed25519:<version> <base64>"`), or null. */
  readonly oldKey: string | null

  /** Only events received before this time (ms since the epoch), or null for all. */
  readonly beforeTs: number | null
}

/** The fields `event_resign` knows; `job_name` is the admin API's own. */
const KNOWN_FIELDS = new Set(['job_name', 'old_key', 'before_ts'])

/**
 * Checks the parameters of `event_resign` in Synapse's order: first Synapse's own checks, with its
 * words and `M_UNKNOWN`; then the stricter ones, with `M_INVALID_PARAM`. `null` counts as absent.
 *
 * @throws {JobParameterError} A parameter is invalid; `field` names it.
 * @throws {SignerError} The key provider fails when asked for the current key.
 */
export async function validateEventResignParams(
  params: unknown,
  keyProvider: KeyProvider,
): Promise<EventResignParams> {
  const fields = asFields(params)
  const oldKey = fields.old_key ?? null
  const beforeTs = fields.before_ts ?? null
  checkSynapseTypes(oldKey, beforeTs)

  checkKnownFields(fields)
  if (oldKey !== null) await checkOldKey(oldKey as string, keyProvider)
  checkBeforeTs(beforeTs as number | boolean | null)

  return { oldKey: oldKey as string | null, beforeTs: beforeTs as number | null }
}

/**
 * Parses an `old_key` that passed validation.
 *
 * @throws {JobParameterError} It does not parse (a progress row edited by hand).
 */
export function parseOldKey(oldKey: string): VerifyKey {
  try {
    return parseVerifyKey(oldKey)
  } catch {
    throw new JobParameterError(
      'old_key',
      '\'old_key\' must be a verify key written as "ed25519:<version> <unpadded base64>"',
    )
  }
}

function asFields(params: unknown): Record<string, unknown> {
  if (params === undefined || params === null) return {}
  if (typeof params !== 'object' || Array.isArray(params)) {
    throw new JobParameterError('params', 'The parameters of event_resign must be a JSON object')
  }

  return params as Record<string, unknown>
}

/** Synapse's checks: a boolean `before_ts` passes them, since Python's bool is an int. */
function checkSynapseTypes(oldKey: unknown, beforeTs: unknown): void {
  if (oldKey !== null && typeof oldKey !== 'string') {
    throw new JobParameterError('old_key', "'old_key' must be a string", 'M_UNKNOWN')
  }

  const integer = typeof beforeTs === 'number' && Number.isInteger(beforeTs)
  if (beforeTs !== null && typeof beforeTs !== 'boolean' && !integer) {
    throw new JobParameterError('before_ts', "'before_ts' must be an integer", 'M_UNKNOWN')
  }
}

function checkKnownFields(fields: Record<string, unknown>): void {
  const unknown = Object.keys(fields).find((field) => !KNOWN_FIELDS.has(field))
  if (unknown === undefined) return

  throw new JobParameterError(
    unknown,
    `'${unknown}' is not a parameter of event_resign, which takes 'old_key' and 'before_ts'`,
  )
}

async function checkOldKey(oldKey: string, keyProvider: KeyProvider): Promise<void> {
  const key = parseOldKey(oldKey)
  const current = await loadCurrentKey(keyProvider)
  if (current.keyId !== key.keyId) return

  throw new JobParameterError(
    'old_key',
    `'old_key' names ${key.keyId}, the id of the current signing key: it must name an old key`,
  )
}

function checkBeforeTs(beforeTs: number | boolean | null): void {
  if (beforeTs === null) return

  if (typeof beforeTs === 'boolean') {
    throw new JobParameterError('before_ts', "'before_ts' must be an integer, not a boolean")
  }
  if (beforeTs < 0) {
    throw new JobParameterError('before_ts', "'before_ts' must not be negative")
  }
  if (!Number.isSafeInteger(beforeTs)) {
    throw new JobParameterError('before_ts', "'before_ts' must be at most 2^53 - 1")
  }
}
