import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeVerifyKeyBase64, KeyFileError } from 'matrix-background-updates'
import { readSigningKeyFile } from 'matrix-background-updates/node'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { SEED_BASE64, VERIFY_KEY_BASE64 } from '../matrix/synapse-vectors.js'

const KEY_FILE = `ed25519 a_1 ${SEED_BASE64}\n`
let folder: string

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mbu-key-file-'))
})

afterAll(async () => {
  await rm(folder, { recursive: true, force: true })
})

async function keyFile(name: string, mode: number, text = KEY_FILE): Promise<string> {
  const path = join(folder, name)
  await writeFile(path, text)
  await chmod(path, mode)
  return path
}

const spyLogger = () => ({ warn: vi.fn() })

describe.skipIf(process.platform === 'win32')('readSigningKeyFile', () => {
  it.each([
    ['0600', 0o600],
    ['0640, as Synapse writes it', 0o640],
    ['0400', 0o400],
  ])('reads a file of mode %s without a warning', async (_name, mode) => {
    const logger = spyLogger()
    const keys = await readSigningKeyFile(await keyFile(`mode-${mode}`, mode), { logger })
    expect(keys.map((key) => key.keyId)).toEqual(['ed25519:a_1'])
    expect(encodeVerifyKeyBase64(keys[0]?.verifyKey as never)).toBe(VERIFY_KEY_BASE64)
    expect(logger.warn).not.toHaveBeenCalled()
  })

  it.each([
    ['0644', 0o644],
    ['0604', 0o604],
    ['0666', 0o666],
  ])('warns through the logger about a world-readable file of mode %s', async (name, mode) => {
    const logger = spyLogger()
    const path = await keyFile(`open-${mode}`, mode)
    const keys = await readSigningKeyFile(path, { logger })

    expect(keys).toHaveLength(1)
    expect(logger.warn).toHaveBeenCalledTimes(1)
    const [fields, message] = logger.warn.mock.calls[0] as [Record<string, unknown>, string]
    expect(fields).toEqual({ path, mode: name.slice(1) })
    expect(message).toMatch(/world-readable/)
    expect(JSON.stringify(logger.warn.mock.calls)).not.toContain(SEED_BASE64.slice(0, 20))
  })

  it('reads a world-readable file silently without a logger', async () => {
    const keys = await readSigningKeyFile(await keyFile('no-logger', 0o644))
    expect(keys).toHaveLength(1)
  })

  it('refuses a world-readable file with strictPermissions', async () => {
    const logger = spyLogger()
    const path = await keyFile('strict', 0o644)
    const error = await readSigningKeyFile(path, { logger, strictPermissions: true }).catch(
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(KeyFileError)
    expect((error as KeyFileError).line).toBe(0)
    expect((error as Error).message).toContain(path)
    expect((error as Error).message).not.toMatch(/line \d/)
    expect((error as Error).message).not.toContain(SEED_BASE64.slice(0, 20))
  })

  it('accepts a group-readable file with strictPermissions', async () => {
    const keys = await readSigningKeyFile(await keyFile('strict-640', 0o640), {
      strictPermissions: true,
    })
    expect(keys).toHaveLength(1)
  })

  it('refuses a malformed file by line number, without the seed', async () => {
    const path = await keyFile('bad', 0o600, `\r\ned25519 1 ${SEED_BASE64.slice(2)}\r\n`)
    const error = await readSigningKeyFile(path).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KeyFileError)
    expect((error as KeyFileError).line).toBe(2)
    expect((error as Error).message).not.toContain(SEED_BASE64.slice(2, 30))
  })

  it('passes on the error of a missing file', async () => {
    await expect(readSigningKeyFile(join(folder, 'missing'))).rejects.toMatchObject({
      code: 'ENOENT',
    })
  })
})
