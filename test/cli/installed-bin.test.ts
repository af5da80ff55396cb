import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Installation, installPackage, run } from '../package/install.js'

describe('matrix-bgupdates installed from the packed tarball', () => {
  let installation: Installation

  beforeAll(async () => {
    installation = await installPackage('tarball')
  })

  afterAll(() => installation?.remove())

  it('is linked as a bin and loads the package by its own name', async () => {
    const bin = join(installation.folder, 'node_modules', '.bin', 'matrix-bgupdates')
    const file = join(installation.folder, 'signing.key')
    const help = await run(bin, ['--help'])
    const generated = await run(bin, ['keys', 'generate', file, '--version', 'a_1'])

    expect(help.stdout).toContain('Usage: matrix-bgupdates <command>')
    expect(generated.stdout).toMatch(/^ed25519:a_1 [A-Za-z0-9+/]{43}\n$/)
  })
})
