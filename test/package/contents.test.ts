import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, run } from './install.js'

const OPTIONAL = ['pg', 'better-sqlite3', 'sodium-native', 'express', 'koa', 'hono']

/** Every module a built file imports or requires, static or dynamic. */
async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(join(ROOT, 'dist', file), 'utf8')
  const found = new Set<string>()
  const patterns = [
    /\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  ]
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) found.add(match[1] as string)
  }
  return [...found].sort()
}

describe('the built files', () => {
  it.each(['index.js', 'index.cjs'])(
    'default build %s imports nothing: no node: module, no optional dependency',
    async (file) => {
      expect(await importsOf(file)).toEqual([])
      const text = await readFile(join(ROOT, 'dist', file), 'utf8')
      expect(text).not.toMatch(/["']node:/)
      expect(text).not.toMatch(/\bprocess\.(?:platform|versions|env)\b/)
    },
  )

  it.each(['index.node.js', 'index.node.cjs'])(
    'node build %s imports node:crypto and nothing else',
    async (file) => {
      const imports = await importsOf(file)
      expect(imports.length).toBeGreaterThan(0)
      for (const name of imports) expect(['crypto', 'node:crypto']).toContain(name)
    },
  )

  it.each(['node.js', 'node.cjs'])(
    '/node entry %s imports only Node built-ins and the root entry',
    async (file) => {
      for (const name of await importsOf(file)) {
        expect(name).toMatch(
          /^(node:)?(fs|fs\/promises|path|os|module|url|worker_threads)$|^matrix-background-updates$/,
        )
      }
    },
  )

  it("resignWorkers' worker module imports only Node built-ins, carrying its own pipeline", async () => {
    const imports = await importsOf('resign-worker.js')
    expect(imports).toContain('worker_threads')
    for (const name of imports) {
      expect(name).toMatch(/^(node:)?(crypto|module|url|worker_threads)$/)
    }
  })

  it('finds imports where there are some, so the checks above can fail', async () => {
    expect(await importsOf('node.js')).toContain('matrix-background-updates')
  })

  it.each(['index.js', 'index.cjs', 'index.node.js', 'index.node.cjs', 'node.js', 'node.cjs'])(
    '%s loads no optional dependency',
    async (file) => {
      for (const name of await importsOf(file)) {
        expect(OPTIONAL).not.toContain(name.split('/')[0])
      }
    },
  )
})

describe('the packed tarball', () => {
  it('holds the built entries and documentation, and no sources or tests', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json'], { cwd: ROOT })
    const [packed] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
    const paths = (packed?.files ?? []).map((file) => file.path)

    for (const entry of [
      'index.js',
      'index.cjs',
      'index.node.js',
      'index.node.cjs',
      'node.js',
      'node.cjs',
      'resign-worker.js',
      'index.d.ts',
      'index.d.cts',
    ]) {
      expect(paths).toContain(`dist/${entry}`)
    }
    expect(paths).toContain('package.json')
    expect(paths).toContain('README.md')
    expect(paths).toContain('docs/signing.md')
    expect(paths.filter((path) => /^(src|test|bench|examples)\//.test(path))).toEqual([])
  })

  it('declares no runtime dependency', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
    expect(manifest.dependencies ?? {}).toEqual({})
    expect(manifest.sideEffects).toBe(false)
  })
})
