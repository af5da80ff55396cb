import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Installation, installPackage, PACKAGE, run } from './install.js'

/** Root exports other code relies on (DESIGN.md) that exist once this issue is done. */
const ROOT_NAMES = [
  'encodeCanonicalJson',
  'encodeBase64',
  'decodeBase64',
  'generateSigningKey',
  'decodeSigningKeyBase64',
  'getVerifyKey',
  'encodeVerifyKeyBase64',
  'decodeVerifyKeyBase64',
  'parseVerifyKey',
  'readSigningKeys',
  'writeSigningKeys',
  'signJson',
  'verifySignedJson',
  'MemoryKeyProvider',
  'SigningKeyFileProvider',
  'selectSigningBackend',
  'CanonicalJsonError',
  'KeyFileError',
  'createAdminApi',
  'MissingTokenError',
  'UnknownTokenError',
  'ForbiddenError',
]

const OPTIONAL = ['pg', 'better-sqlite3', 'sodium-native', 'express', 'koa', 'hono']

/** What a child process reports of the package it loaded. */
const REPORT = `
  const names = Object.keys(lib)
  const key = lib.decodeSigningKeyBase64('ed25519', '1', 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1')
  const signed = await lib.signJson({}, 'domain', key)
  let sameErrorClass = false
  try { await node.readSigningKeyFile(process.argv.at(-1)) } catch (e) { sameErrorClass = e instanceof lib.KeyFileError }
  console.log(JSON.stringify({
    names, backend: lib.cryptoBackendName, signature: signed.signatures.domain['ed25519:1'],
    readSigningKeyFile: typeof node.readSigningKeyFile, sameErrorClass,
  }))
`

const ESM = `
  import * as lib from '${PACKAGE}'
  import * as node from '${PACKAGE}/node'
  ${REPORT}
`

const CJS = `
  const lib = require('${PACKAGE}')
  const node = require('${PACKAGE}/node')
  ;(async () => { ${REPORT} })().catch((error) => { console.error(error); process.exit(1) })
`

/**
 * Fails the load when one of the optional dependencies is so much as resolved: an ESM resolve hook
 * (registered before the import) and a CommonJS resolver patch that both throw on them.
 */
const OPTIONAL_PATTERN = JSON.stringify(`^(${OPTIONAL.join('|')})(/|$)`)
const GUARD = `
  const Module = require('node:module')
  const optional = new RegExp(${OPTIONAL_PATTERN})
  const resolve = Module._resolveFilename
  Module._resolveFilename = function (request, ...rest) {
    if (optional.test(request)) throw new Error('optional dependency resolved: ' + request)
    return resolve.call(this, request, ...rest)
  }
  const hook = \`export async function resolve(specifier, context, next) {
    if (new RegExp(${OPTIONAL_PATTERN}).test(specifier)) {
      throw new Error('optional dependency resolved: ' + specifier)
    }
    return next(specifier, context)
  }\`
  Module.register('data:text/javascript,' + encodeURIComponent(hook))
`

const SIGNATURE =
  'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ'

describe.each(['tarball', 'symlink'] as const)('the built package installed from a %s', (how) => {
  let installation: Installation
  let guard: string
  let badKeyFile: string

  beforeAll(async () => {
    installation = await installPackage(how)
    guard = join(installation.folder, 'guard.cjs')
    await writeFile(guard, GUARD)
    badKeyFile = join(installation.folder, 'bad.key')
    await writeFile(badKeyFile, 'ed25519 1\n', { mode: 0o600 })
  })

  afterAll(() => installation?.remove())

  async function load(kind: 'esm' | 'cjs'): Promise<Record<string, unknown>> {
    const args =
      kind === 'esm'
        ? ['--require', guard, '--input-type=module', '-e', ESM, badKeyFile]
        : ['--require', guard, '-e', CJS, badKeyFile]
    const { stdout } = await run(process.execPath, args, { cwd: installation.folder })
    return JSON.parse(stdout)
  }

  it.each(['esm', 'cjs'] as const)('loads with %s, root and /node entries alike', async (kind) => {
    const report = await load(kind)
    expect(report.names).toEqual(expect.arrayContaining(ROOT_NAMES))
    expect(report.backend).toBe('node:crypto')
    expect(report.signature).toBe(SIGNATURE)
    expect(report.readSigningKeyFile).toBe('function')
    expect(report.sameErrorClass).toBe(true)
  })

  it('exposes the same names to import and require', async () => {
    const [esm, cjs] = await Promise.all([load('esm'), load('cjs')])
    expect((esm.names as string[]).filter((name) => name !== 'default').sort()).toEqual(
      (cjs.names as string[]).sort(),
    )
  })

  it('has a guard that does stop an optional dependency from resolving', async () => {
    for (const args of [
      ['--require', guard, '--input-type=module', '-e', "await import('hono')"],
      ['--require', guard, '-e', "require('pg')"],
    ]) {
      const failure = await run(process.execPath, args, { cwd: installation.folder }).catch(
        (error: { stderr: string }) => error,
      )
      expect((failure as { stderr: string }).stderr).toMatch(
        /optional dependency resolved: (hono|pg)/,
      )
    }
  })
})
