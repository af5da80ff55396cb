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

/**
 * A Synapse signing key file is refused: a malformed line (the message gives its number, never its
 * seed), or, from `readSigningKeyFile` with `strictPermissions`, a file every user can read.
 */
export class KeyFileError extends MatrixBackgroundUpdatesError {
  /** The 1-based number of the offending line; 0 when the error concerns the whole file. */
  readonly line: number

  constructor(line: number, reason: string) {
    super('ERR_KEY_FILE', `Signing key file${line > 0 ? `, line ${line}` : ''}: ${reason}`)
    this.line = line
  }
}

/** A signer (a KeyProvider's key, possibly remote) returned something that is not a signature. */
export class SignerError extends MatrixBackgroundUpdatesError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SIGNER', message, options)
  }
}

/** A room version this library does not know. Room versions 1 to 12 are known. */
export class UnknownRoomVersionError extends MatrixBackgroundUpdatesError {
  /** The identifier that was given, cut to 32 characters; empty when it was not a string. */
  readonly roomVersion: string

  constructor(roomVersion: unknown) {
    const shown = typeof roomVersion === 'string' ? roomVersion.slice(0, 32) : ''
    super(
      'ERR_UNKNOWN_ROOM_VERSION',
      typeof roomVersion === 'string'
        ? `Unknown room version ${JSON.stringify(shown)}: versions 1 to 12 are known`
        : `A room version must be a string such as "10", got ${typeof roomVersion}`,
    )
    this.roomVersion = shown
  }
}

/**
 * An event ID was asked of a room version whose event IDs are not derived from the event: in room
 * versions 1 and 2 the origin server chose them (`$localpart:server`).
 */
export class EventIdNotDerivedError extends MatrixBackgroundUpdatesError {
  /** The room version, `"1"` or `"2"`. */
  readonly roomVersion: string

  constructor(roomVersion: string) {
    super(
      'ERR_EVENT_ID_NOT_DERIVED',
      `Event IDs of room version ${roomVersion} are chosen by the origin server, not derived`,
    )
    this.roomVersion = roomVersion
  }
}

/** An event lacks what every event has: a `type` string and a `content` object. */
export class MalformedEventError extends MatrixBackgroundUpdatesError {
  /** The JSON path of the field at fault, such as `$.content`. */
  readonly path: string

  constructor(path: string, reason: string) {
    super('ERR_MALFORMED_EVENT', `Malformed event: ${path} ${reason}`)
    this.path = path
  }
}

/**
 * A room's current state, given to a job's pure computation, is malformed: an event that is not an
 * object, a `type` or `state_key` that is not a string, `content` that is not an object, a member
 * event without a string `membership`, or a `(type, state_key)` pair given twice. A job skips such a
 * room and counts it.
 */
export class RoomStateError extends MatrixBackgroundUpdatesError {
  /** The room whose state is malformed. */
  readonly roomId: string

  /** Where in the input, such as `stateEvents[3].content.membership`. */
  readonly path: string

  constructor(roomId: string, path: string, reason: string) {
    super('ERR_ROOM_STATE', `Malformed current state of room ${roomId}: ${path} ${reason}`)
    this.roomId = roomId
    this.path = path
  }
}
