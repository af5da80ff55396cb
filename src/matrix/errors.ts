/**
 * Every error this library throws on purpose extends {@link MatrixBackgroundUpdatesError} and carries a
 * stable `code`. Messages name the field or path at fault and never echo a key, a seed or a token.
 */
export class MatrixBackgroundUpdatesError extends Error {
  /** A stable, machine-readable identifier of the kind of error, such as `ERR_CANONICAL_JSON`. */
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/**
 * A value cannot be written as Matrix canonical JSON: a float, an integer beyond ±(2^53−1), `undefined`,
 * a function, a symbol, a bigint, NaN, Infinity, a lone surrogate, a cycle or a non-plain object.
 */
export class CanonicalJsonError extends MatrixBackgroundUpdatesError {
  /** The JSON path of the value that was refused, such as `$.content.body` or `$.prev_events[2]`. */
  readonly path: string

  constructor(path: string, reason: string) {
    super('ERR_CANONICAL_JSON', `Cannot encode ${path} as canonical JSON: ${reason}`)
    this.path = path
  }
}

/** Text is not unpadded or padded base64, in the standard or the URL-safe alphabet. */
export class Base64Error extends MatrixBackgroundUpdatesError {
  constructor(reason: string) {
    super('ERR_BASE64', `Invalid base64: ${reason}`)
  }
}

/**
 * A key, key id or key version is malformed: an unsupported algorithm, a version outside
 * `[a-zA-Z0-9_]+`, a key of the wrong length, or text that is not `ed25519:<version> <base64>`.
 */
export class KeyFormatError extends MatrixBackgroundUpdatesError {
  constructor(message: string) {
    super('ERR_KEY_FORMAT', message)
  }
}

/** A line of a Synapse signing key file is malformed. The message gives its number, never its seed. */
export class KeyFileError extends MatrixBackgroundUpdatesError {
  /** The 1-based number of the offending line. */
  readonly line: number

  constructor(line: number, reason: string) {
    super('ERR_KEY_FILE', `Signing key file, line ${line}: ${reason}`)
    this.line = line
  }
}

/** A signer (a KeyProvider's key, possibly remote) returned something that is not a signature. */
export class SignerError extends MatrixBackgroundUpdatesError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SIGNER', message, options)
  }
}
