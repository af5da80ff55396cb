import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

/** The built entry: `npm test` builds first; run `npm run build` before running this file alone. */
const BUILT = fileURLToPath(new URL('../../dist/sqlite.js', import.meta.url))

let directory: string

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'mbu-migrate-'))
})

afterEach(() => {
  rmSync(directory, { recursive: true, force: true })
})

/** Runs `migrate()` on `file` in a process of its own and resolves with its result. */
function migrateInChild(file: string): Promise<{ fromVersion: number; toVersion: number }> {
  const source = `
    import { SqliteStorageAdapter } from ${JSON.stringify(BUILT)}
    const storage = new SqliteStorageAdapter({ database: ${JSON.stringify(file)} })
    console.log(JSON.stringify(await storage.migrate()))
    await storage.close()
  `
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source])
    let output = ''
    let errors = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      errors += chunk
    })
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`exit ${code}: ${errors}`)),
    )
  })
}

describe('migrate in several processes at once', () => {
  it('creates the schema exactly once', async () => {
    const file = join(directory, 'homeserver.db')

    const results = await Promise.all(Array.from({ length: 4 }, () => migrateInChild(file)))

    expect(results.filter((result) => result.fromVersion === 0).length).toBe(1)
    expect(results.every((result) => result.toVersion === 1)).toBe(true)
  })
})
