import { MatrixErrorAnswer } from './answers.js'
import { ForbiddenError, MissingTokenError, UnknownTokenError } from './errors.js'

/**
 * The answer to an error thrown by `authorize`, or undefined when it is not one of the three
 * authorization errors. Recognised by class, or by `code` when another copy of the library (CJS
 * beside ESM) threw it.
 */
export function authorizationFailure(error: unknown): MatrixErrorAnswer | undefined {
  const code =
    typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : null
  const message = (error as Error | null)?.message

  if (error instanceof MissingTokenError || code === 'ERR_MISSING_TOKEN') {
    return new MatrixErrorAnswer(401, 'M_MISSING_TOKEN', String(message))
  }
  if (error instanceof UnknownTokenError || code === 'ERR_UNKNOWN_TOKEN') {
    const softLogout = (error as Partial<UnknownTokenError>).softLogout === true
    return new MatrixErrorAnswer(401, 'M_UNKNOWN_TOKEN', String(message), {
      soft_logout: softLogout,
    })
  }
  if (error instanceof ForbiddenError || code === 'ERR_FORBIDDEN') {
    return new MatrixErrorAnswer(403, 'M_FORBIDDEN', String(message))
  }

  return undefined
}
