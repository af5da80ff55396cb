import { isCommonTransientError } from 'matrix-background-updates'

/**
 * SQLSTATE codes worth retrying beyond {@link isCommonTransientError}'s: every connection exception
 * (class 08), operator intervention that ends or refuses sessions (57P01–57P03), sessions ended
 * for idling in a transaction or at all (25P03, 57P05), too many connections (53300) and lock
 * timeouts (55P03).
 */
const transientSqlStates = /^(08...|25P03|40001|40P01|57P0[1235]|53300|55P03)$/

/** Messages `pg` gives connection failures that carry no code. */
const connectionMessages = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended',
]

/**
 * Classifies an error of `pg` as transient: a lost or refused connection, a serialization failure
 * or a deadlock (SQLSTATE 40001, 40P01), the server shutting down or out of connections. The
 * runner retries such a batch instead of counting it as a failure.
 */
export function isPostgresTransientError(error: unknown): boolean {
  if (isCommonTransientError(error)) return true

  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown }
    if (typeof code === 'string' && transientSqlStates.test(code)) return true
    if (typeof message === 'string' && connectionMessages.some((m) => message.includes(m))) {
      return true
    }
    current = (current as { cause?: unknown }).cause
  }

  return false
}
