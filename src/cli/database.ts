import { stat } from 'node:fs/promises'
import type { StorageAdapter } from 'matrix-background-updates'
import { type CommandArgs, type OptionSpec, stringOption } from './command.js'
import { OperationalError, oneLine, UsageError } from './errors.js'

/** The options of the commands that work on a database directly. */
export const databaseOptions: Readonly<Record<string, OptionSpec>> = {
  sqlite: {
    type: 'string',
    value: '<file>',
    description: "The homeserver's SQLite database file.",
  },
  postgres: {
    type: 'string',
    value: '<url>',
    description: "The homeserver's PostgreSQL database (postgres://…); needs the pg package.",
  },
  'table-prefix': {
    type: 'string',
    value: '<prefix>',
    description: "The prefix of the library's tables, if the homeserver uses one.",
  },
}

/** An open database: its storage adapter, and how to close it. */
export interface OpenDatabase {
  readonly storage: StorageAdapter
  /** `sqlite homeserver.db`, for messages. */
  readonly description: string
  close(): Promise<void>
}

/** What a storage entry of this package exports, as far as the CLI uses it. */
interface ClosableAdapter extends StorageAdapter {
  close(): Promise<void>
}

type AdapterClass = new (options: Record<string, unknown>) => ClosableAdapter

/** Which database a command works on, from `--sqlite` or `--postgres`. */
export interface DatabaseTarget {
  readonly kind: 'sqlite' | 'postgres'
  /** The file or the URL. */
  readonly location: string
  readonly tablePrefix: string | undefined
}

/**
 * Checks the database options, before anything is read.
 *
 * @throws {UsageError} Neither or both of `--sqlite` and `--postgres` are given.
 */
export function databaseTarget(args: CommandArgs, command: string): DatabaseTarget {
  const file = stringOption(args, 'sqlite')
  const url = stringOption(args, 'postgres')
  if ((file === undefined) === (url === undefined)) {
    throw new UsageError(`${command} needs exactly one of --sqlite <file> and --postgres <url>`)
  }
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new UsageError(`--postgres must be a postgres:// URL, got '${redactUrl(url)}'`)
  }

  const tablePrefix = stringOption(args, 'table-prefix')
  if (file !== undefined) return { kind: 'sqlite', location: file, tablePrefix }
  return { kind: 'postgres', location: url as string, tablePrefix }
}

/**
 * Opens the database. The adapters are loaded only now, through the package's own subpath entries,
 * so the other commands never need a database driver.
 *
 * @throws {OperationalError} The file does not exist, or the adapter or its driver is not installed.
 */
export async function openDatabase(target: DatabaseTarget): Promise<OpenDatabase> {
  const prefix = target.tablePrefix === undefined ? {} : { tablePrefix: target.tablePrefix }
  if (target.kind === 'sqlite') return openSqlite(target.location, prefix)
  return openPostgres(target.location, prefix)
}

async function openSqlite(file: string, prefix: object): Promise<OpenDatabase> {
  const info = await stat(file).catch(() => null)
  if (!info?.isFile()) throw new OperationalError(`no database file at ${file}`)

  const entry = await loadEntry('matrix-background-updates/sqlite', 'SQLite', 'better-sqlite3')
  const Adapter = entry.SqliteStorageAdapter as AdapterClass
  const storage = construct(Adapter, { database: file, ...prefix })
  const description = `sqlite ${file}`
  await checkReadable(storage, description)
  return { storage, description, close: () => storage.close() }
}

async function openPostgres(url: string, prefix: object): Promise<OpenDatabase> {
  const entry = await loadEntry('matrix-background-updates/postgres', 'PostgreSQL', 'pg')
  const Adapter = entry.PostgresStorageAdapter as AdapterClass | undefined
  if (typeof Adapter !== 'function') {
    throw new OperationalError('matrix-background-updates/postgres has no PostgresStorageAdapter')
  }
  const storage = construct(Adapter, { connectionString: url, ...prefix })
  const description = `postgres ${redactUrl(url)}`
  await checkReadable(storage, description)
  return { storage, description, close: () => storage.close() }
}

/** Imports a subpath entry of this package, explaining what is missing when it fails. */
async function loadEntry(
  specifier: string,
  label: string,
  driver: string,
): Promise<Record<string, unknown>> {
  try {
    return (await import(specifier)) as Record<string, unknown>
  } catch (error) {
    const code = (error as { code?: unknown })?.code
    if (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      throw new OperationalError(
        `this version of matrix-background-updates has no ${label} adapter`,
      )
    }
    if (oneLine(error).includes(`'${driver}'`)) {
      throw new OperationalError(
        `${label} support needs the ${driver} package: npm install ${driver}`,
      )
    }
    throw new OperationalError(`cannot load the ${label} adapter: ${oneLine(error)}`)
  }
}

function construct(Adapter: AdapterClass, options: Record<string, unknown>): ClosableAdapter {
  try {
    return new Adapter(options)
  } catch (error) {
    throw new UsageError(oneLine(error))
  }
}

/** Reads the queue once, so a database that cannot be reached fails now, with one clear line. */
async function checkReadable(storage: ClosableAdapter, description: string): Promise<void> {
  try {
    await storage.listPendingUpdates()
  } catch (error) {
    await Promise.resolve(storage.close()).catch(() => undefined)
    const message = oneLine(error)
    const driver = message.match(/Cannot find (?:module|package) '([^']+)'/)?.[1]
    if (driver) throw new OperationalError(`the database driver is missing: npm install ${driver}`)
    throw new OperationalError(`cannot read the database ${description}: ${message}`)
  }
}

/** A database URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@/]*@/, '$1:***@')
}
