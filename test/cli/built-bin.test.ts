import { readFile, stat } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { BIN } from './run-cli.js'

/** The modules the built bin imports statically. */
async function staticImports(): Promise<string[]> {
  const text = await readFile(BIN, 'utf8')
  return [...text.matchAll(/^import .*?from ['"]([^'"]+)['"]/gm)].map((match) => match[1] as string)
}

describe('the built bin, dist/cli.js', () => {
  it('is an executable script for node', async () => {
    const text = await readFile(BIN, 'utf8')

    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true)
    expect((await stat(BIN)).mode & 0o111).not.toBe(0)
  })

  it('loads the library by the package name and no database driver until a command needs one', async () => {
    const imports = await staticImports()

    expect(imports).toContain('matrix-background-updates')
    for (const name of imports) {
      expect(name).toMatch(
        /^(node:)?(crypto|fs\/promises|os|util)$|^matrix-background-updates(\/node)?$/,
      )
    }
  })
})
