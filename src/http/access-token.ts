import { MatrixErrorAnswer } from './answers.js'

/** What the glue reports of a request's credentials. */
export interface CredentialSources {
  /** Every `Authorization` header value, in order (one, when the host has merged them). */
  readonly authorization: readonly string[]

  /** The raw query string, without `?`. */
  readonly query: string
}

/**
 * Extracts the access token as Synapse does: from a single `Authorization: Bearer <token>` header
 * (split on single spaces, exactly two parts, `Bearer` case-sensitive), or else from the first
 * `access_token` query parameter. Both at once, several headers, or a header of another form are
 * refused with 401 `M_MISSING_TOKEN`, before `authorize` is called.
 *
 * @throws {MatrixErrorAnswer} 401 `M_MISSING_TOKEN`.
 */
export function extractAccessToken(sources: CredentialSources): string {
  const fromQuery = new URLSearchParams(sources.query).getAll('access_token')
  const headers = sources.authorization
  if (headers.length === 0) {
    if (fromQuery.length === 0) throw missingToken('Missing access token')
    return fromQuery[0] as string
  }

  if (fromQuery.length > 0) {
    throw missingToken('Mixing Authorization headers and access_token query parameters.')
  }
  if (headers.length > 1) throw missingToken('Too many Authorization headers.')

  const parts = (headers[0] as string).split(' ')
  if (parts.length !== 2 || parts[0] !== 'Bearer')
    throw missingToken('Invalid Authorization header.')
  return parts[1] as string
}

function missingToken(message: string): MatrixErrorAnswer {
  return new MatrixErrorAnswer(401, 'M_MISSING_TOKEN', message)
}
