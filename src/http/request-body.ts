import { badRequest, tooLarge } from './answers.js'

/** Where a request's body comes from: raw bytes to read, or a value a host's body parser made. */
export type BodySource =
  | { readonly kind: 'stream'; read(limit: number): Promise<Uint8Array | 'too_large'> }
  | { readonly kind: 'parsed'; readonly value: unknown }

/** A JSON object from a request body. */
export type JsonBody = Record<string, unknown>

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Reads the body and parses it as a JSON object, with Synapse's answers: 400 `M_NOT_JSON` for an
 * empty body, bytes that are not UTF-8 or text that is not JSON; 400 `M_BAD_JSON` for JSON that is
 * not an object; 413 `M_TOO_LARGE` past `maxBodyBytes`.
 *
 * @throws {MatrixErrorAnswer} One of the answers above.
 */
export async function readJsonObject(source: BodySource, maxBodyBytes: number): Promise<JsonBody> {
  const value =
    source.kind === 'parsed' ? parsedValue(source.value) : await readJson(source, maxBodyBytes)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('Content must be a JSON object.', 'M_BAD_JSON')
  }

  return value as JsonBody
}

async function readJson(
  source: Extract<BodySource, { kind: 'stream' }>,
  maxBodyBytes: number,
): Promise<unknown> {
  const bytes = await source.read(maxBodyBytes)
  if (bytes === 'too_large') throw tooLarge(maxBodyBytes)

  return parseJsonBytes(bytes)
}

/** A host's body parser may hand over text or bytes (raw parsers) as well as parsed JSON. */
function parsedValue(value: unknown): unknown {
  if (typeof value === 'string') return parseJsonText(value)
  if (value instanceof Uint8Array) return parseJsonBytes(value)

  return value
}

function parseJsonBytes(bytes: Uint8Array): unknown {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw notJson()
  }

  return parseJsonText(text)
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw notJson()
  }
}

function notJson() {
  return badRequest('Content not JSON.', 'M_NOT_JSON')
}
