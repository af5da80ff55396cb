/** One logging method, called as pino's are: details first, then the message. */
export type LogMethod = (details: Record<string, unknown>, message: string) => void

/**
 * The logger a runner writes to. pino's loggers fit as they are; so does any object with these four
 * methods. The library never prints: without a logger it is silent.
 */
export interface Logger {
  debug: LogMethod
  info: LogMethod
  warn: LogMethod
  error: LogMethod
}

const ignore: LogMethod = () => {}

/** A logger that discards everything: the default. */
export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore }
