import { randomInt } from 'node:crypto'
import { chmod, open } from 'node:fs/promises'
import { generateSigningKey, writeSigningKeys } from 'matrix-background-updates'
import { type Command, flag, stringOption } from '../command.js'
import { EXIT, OperationalError, UsageError } from '../errors.js'
import { printJson, printLine } from '../io.js'
import { loadKeyFile, oldKeyFormat } from '../key-file.js'

const VERSION_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/** A fresh key version in Synapse's style: `a_` and four random letters or digits. */
function randomVersion(): string {
  const letters = Array.from({ length: 4 }, () => VERSION_ALPHABET[randomInt(62)])
  return `a_${letters.join('')}`
}

/** `keys generate <file>`: a new key file, mode 0600, never over an existing file. */
export const keysGenerateCommand: Command = {
  name: 'keys generate',
  summary: 'Write a new Synapse-format signing key file (mode 0600) and print its public key.',
  positionals: ['<file>'],
  options: {
    version: {
      type: 'string',
      value: '<version>',
      description: 'The key version, [a-zA-Z0-9_]+ (default: a_ and four random characters).',
    },
  },
  details: 'Refuses to overwrite an existing file. Prints the public key in the old_key format.',
  async run(args, io) {
    const [file] = args.positionals as [string]
    const version = stringOption(args, 'version') ?? randomVersion()
    if (!/^[a-zA-Z0-9_]+$/.test(version)) {
      throw new UsageError(`--version must match [a-zA-Z0-9_]+, got '${version}'`)
    }

    const key = generateSigningKey(version)
    await writeNewFile(file, writeSigningKeys([key]))
    const publicKey = oldKeyFormat(key)
    if (flag(args, 'json')) printJson(io, { file, key_id: key.keyId, public_key: publicKey })
    else printLine(io, publicKey)
    return EXIT.ok
  },
}

async function writeNewFile(path: string, text: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(path, 'wx', 0o600)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'EEXIST') throw new OperationalError(`${path} exists already; not overwriting it`)
    throw new OperationalError(`cannot create ${path}: ${String(code ?? error)}`)
  }
  try {
    await handle.writeFile(text)
  } finally {
    await handle.close()
  }
  await chmod(path, 0o600)
}

/** `keys show <file>`: the public keys of a key file, never the seeds. */
export const keysShowCommand: Command = {
  name: 'keys show',
  summary: 'Print the public keys of a signing key file in the old_key format, never the seeds.',
  positionals: ['<file>'],
  options: {},
  details: 'One line per key, the current key first: ed25519:<version> <base64>.',
  async run(args, io) {
    const [file] = args.positionals as [string]
    const keys = await loadKeyFile(file, io)
    const shown = keys.map((key, index) => ({
      key_id: key.keyId,
      public_key: oldKeyFormat(key),
      current: index === 0,
    }))

    if (flag(args, 'json')) printJson(io, { file, keys: shown })
    else for (const key of shown) printLine(io, key.public_key)
    return EXIT.ok
  },
}
