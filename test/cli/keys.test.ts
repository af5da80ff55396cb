import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type Ed25519SigningKey,
  encodeVerifyKeyBase64,
  generateSigningKey,
  parseVerifyKey,
  readSigningKeys,
  writeSigningKeys,
} from 'matrix-background-updates'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli, temporaryFolder } from './run-cli.js'

let folder: Awaited<ReturnType<typeof temporaryFolder>>

beforeEach(async () => {
  folder = await temporaryFolder()
})

afterEach(async () => {
  await folder.remove()
})

describe('matrix-bgupdates keys', () => {
  it('generates a key file of mode 0600 and prints its public key in the old_key format', async () => {
    const file = join(folder.path, 'signing.key')
    const result = await runCli(['keys', 'generate', file, '--version', 'b_2'])
    const [key] = readSigningKeys(await readFile(file, 'utf8')) as [Ed25519SigningKey]

    expect(result.code).toBe(0)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(key.keyId).toBe('ed25519:b_2')
    expect(result.stdout).toBe(`ed25519:b_2 ${encodeVerifyKeyBase64(key.verifyKey)}\n`)
    expect(parseVerifyKey(result.stdout.trim()).keyId).toBe('ed25519:b_2')
  })

  it("gives a new key a Synapse-style version when --version isn't given", async () => {
    const file = join(folder.path, 'signing.key')
    const result = await runCli(['keys', 'generate', file, '--json'])

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({
      file,
      key_id: expect.stringMatching(/^ed25519:a_[a-zA-Z0-9]{4}$/),
    })
  })

  it('refuses to overwrite an existing file and leaves it as it was', async () => {
    const file = join(folder.path, 'signing.key')
    await writeFile(file, 'precious\n')
    const result = await runCli(['keys', 'generate', file])

    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`matrix-bgupdates: ${file} exists already; not overwriting it\n`)
    expect(await readFile(file, 'utf8')).toBe('precious\n')
  })

  it('shows every public key of a file, the current first, and never a seed', async () => {
    const keys = [generateSigningKey('new'), generateSigningKey('old')]
    const file = join(folder.path, 'signing.key')
    await writeFile(file, writeSigningKeys(keys), { mode: 0o600 })
    const result = await runCli(['keys', 'show', file])
    const json = await runCli(['keys', 'show', file, '--json'])
    const seeds = keys.map((key) => Buffer.from(key.encode()).toString('base64').slice(0, 20))

    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n')).toEqual(
      keys.map((key) => `${key.keyId} ${encodeVerifyKeyBase64(key.verifyKey)}`),
    )
    for (const seed of seeds) expect(result.stdout + json.stdout).not.toContain(seed)
    expect(JSON.parse(json.stdout).keys.map((key: { current: boolean }) => key.current)).toEqual([
      true,
      false,
    ])
  })

  it('warns on stderr when every user may read the key file', async () => {
    const file = join(folder.path, 'signing.key')
    await writeFile(file, writeSigningKeys([generateSigningKey('1')]))
    await chmod(file, 0o644)
    const result = await runCli(['keys', 'show', file])

    expect(result.code).toBe(0)
    expect(result.stderr).toBe(
      `warning: ${file} is readable by every user (mode 644); chmod 600 it\n`,
    )
  })

  it('fails with exit code 1 for a missing or malformed key file', async () => {
    const broken = join(folder.path, 'broken.key')
    await writeFile(broken, 'ed25519 1 not-base64!\n', { mode: 0o600 })
    const missing = await runCli(['keys', 'show', join(folder.path, 'nope.key')])
    const malformed = await runCli(['keys', 'show', broken])

    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('ENOENT')
    expect(malformed.code).toBe(1)
    expect(malformed.stderr).toMatch(
      /^matrix-bgupdates: cannot read the key file .*broken\.key: .+\n$/,
    )
    expect(malformed.stderr).not.toContain('not-base64')
  })
})
