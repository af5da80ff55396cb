import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Installation, installPackage, ROOT, run } from '../package/install.js'

const read = (path: string) => readFile(join(ROOT, path), 'utf8')

/** The TypeScript code blocks of a Markdown text, in order. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string)
}

describe('the documentation examples', () => {
  let installation: Installation

  beforeAll(async () => {
    installation = await installPackage('symlink')
  })

  afterAll(() => installation?.remove())

  it('shows the remote signer of examples/, which is type-checked and tested', async () => {
    const example = await read('examples/remote-signer/remote-signing-key.ts')
    const fn = example.slice(example.indexOf('/** A key held'))
    expect(fn.length).toBeGreaterThan(100)
    expect(codeBlocks(await read('docs/signing.md')).some((block) => block.includes(fn))).toBe(true)
  })

  it('runs the README signing example against the built package', async () => {
    const example = codeBlocks(await read('README.md')).find((block) => block.includes('signJson('))
    expect(example).toContain('verifySignedJson')

    const script = join(installation.folder, 'readme-example.mjs')
    const check =
      "\nif (!(await verifySignedJson(signed, 'example.org', key.verifyKey))) process.exit(3)\n" +
      "console.log(signed.signatures['example.org']['ed25519:a_1'])\n"
    await writeFile(script, `${example}${check}`)
    const { stdout } = await run(process.execPath, [script], { cwd: installation.folder })
    expect(stdout.trim()).toMatch(/^[A-Za-z0-9+/]{86}$/)
  })
})
