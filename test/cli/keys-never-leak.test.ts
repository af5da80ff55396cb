import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readSigningKeys } from 'matrix-background-updates'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { leaksIn, needlesFor } from '../security/key-material.js'
import { type CliResult, runCli, temporaryFolder } from './run-cli.js'
import { createHomeserverFiles, type HomeserverFiles, SERVER_NAME } from './sqlite-homeserver.js'

let folder: Awaited<ReturnType<typeof temporaryFolder>>
let files: HomeserverFiles

beforeEach(async () => {
  folder = await temporaryFolder()
  files = await createHomeserverFiles(folder.path, 120)
})

afterEach(async () => {
  await folder.remove()
})

function database(...args: string[]): string[] {
  return [...args, '--sqlite', files.database, '--server-name', SERVER_NAME]
}

/** Every command an operator runs during a rotation, its undo and its pruning, in order. */
async function runRotation(generated: string): Promise<CliResult[]> {
  const keyFile = ['--key-file', files.keyFile]
  const worldReadable = join(folder.path, 'world-readable.key')
  await writeFile(worldReadable, await readFile(files.keyFile))
  await chmod(worldReadable, 0o644)

  return [
    await runCli(['keys', 'generate', generated, '--json']),
    await runCli(['keys', 'show', generated]),
    await runCli(['keys', 'show', files.keyFile, '--json']),
    await runCli(database('resign', ...keyFile, '--dry-run', '--old-key', files.oldKeyText)),
    await runCli(database('resign', ...keyFile, '--old-key', files.oldKeyText, '--json')),
    await runCli(database('resign', ...keyFile)),
    await runCli(database('resign', ...keyFile, '--revert', '--json')),
    await runCli(database('resign', '--key-file', worldReadable)),
    await runCli(database('prune-undo-log', '--json')),
    await runCli(database('resign', '--key-file', generated, '--old-key', 'ed25519:x AAAA')),
  ]
}

describe('the CLI output during a whole rotation', () => {
  it('never shows a seed or a secret key, in any encoding', async () => {
    const generated = join(folder.path, 'generated.key')
    const results = await runRotation(generated)
    const keys = [files.oldKey, files.newKey, ...readSigningKeys(await readFile(generated, 'utf8'))]
    const needles = keys.flatMap((key) => needlesFor(key.encode(), key.verifyKey.bytes))
    const output = results.map((result) => `${result.stdout}\n${result.stderr}`).join('\n')

    expect(results.map((result) => result.code)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
    expect(keys).toHaveLength(3)
    expect(output).toContain(files.newKey.keyId)
    expect(leaksIn(output, needles)).toEqual([])
  })

  it('would be caught showing one: the search finds a seed written in base64', () => {
    const seed = files.newKey.encode()
    const needles = needlesFor(seed, files.newKey.verifyKey.bytes)
    const output = `key: ${Buffer.from(seed).toString('base64url')}`

    expect(leaksIn(output, needles).length).toBeGreaterThan(0)
  })
})
