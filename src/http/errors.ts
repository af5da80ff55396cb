import { MatrixBackgroundUpdatesError } from '../matrix/errors.js'

/**
 * Thrown by an `authorize` function when the request carries no usable access token. The admin API
 * answers 401 `M_MISSING_TOKEN` with this message (Synapse's words by default).
 */
export class MissingTokenError extends MatrixBackgroundUpdatesError {
  /** @param message The answer's `error`; never put the token in it. */
  constructor(message = 'Missing access token') {
    super('ERR_MISSING_TOKEN', message)
  }
}

/**
 * Thrown by an `authorize` function when the access token is unknown, expired or revoked. The admin
 * API answers 401 `M_UNKNOWN_TOKEN` with this message and `soft_logout`.
 */
export class UnknownTokenError extends MatrixBackgroundUpdatesError {
  /** Whether the client may refresh its session instead of logging out (the spec's `soft_logout`). */
  readonly softLogout: boolean

  /**
   * @param message The answer's `error`; never put the token in it.
   * @param options `softLogout`, default false.
   */
  constructor(message = 'Invalid access token passed.', options: { softLogout?: boolean } = {}) {
    super('ERR_UNKNOWN_TOKEN', message)
    this.softLogout = options.softLogout === true
  }
}

/**
 * Thrown by an `authorize` function when the token is valid but its user is not a server admin. The
 * admin API answers 403 `M_FORBIDDEN` with this message.
 */
export class ForbiddenError extends MatrixBackgroundUpdatesError {
  /** @param message The answer's `error`. */
  constructor(message = 'You are not a server admin') {
    super('ERR_FORBIDDEN', message)
  }
}
