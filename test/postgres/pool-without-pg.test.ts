/**
 * `/postgres` given a pool never loads pg: a child process refuses to resolve `pg` at all, and the
 * built adapter still works over a pool that only records its queries. Given a connection string,
 * the same process fails to open the pool, which shows the refusal works.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

const POSTGRES_ENTRY = new URL('../../dist/postgres.js', import.meta.url).href

/** Registers a resolve hook that refuses `pg` and its subpaths, then runs `body`. */
function script(body: string): string {
  const hook = `
    export async function resolve(specifier, context, next) {
      if (specifier === 'pg' || specifier.startsWith('pg/')) throw new Error('pg must not load')
      return next(specifier, context)
    }`
  return `
    import { register } from 'node:module'
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}))
    const { PostgresStorageAdapter } = await import(${JSON.stringify(POSTGRES_ENTRY)})
    ${body}`
}

async function runScript(body: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script(body)], {
    timeout: 20_000,
  })
  return stdout.trim()
}

describe('the PostgreSQL adapter given a pool', () => {
  it('works without pg ever being resolved', async () => {
    const output = await runScript(`
      const queries = []
      const client = {
        query: async (text) => { queries.push(text); return { rows: [], rowCount: 0 } },
        release: () => {},
      }
      const pool = { query: client.query, connect: async () => client, end: async () => {} }
      const adapter = new PostgresStorageAdapter({ pool })
      console.log(JSON.stringify({
        progress: await adapter.readProgress('event_resign'),
        pending: await adapter.listPendingUpdates(),
        sameAsGiven: (await adapter.pool()) === pool,
        queried: queries.length > 0,
      }))
    `)

    expect(JSON.parse(output)).toEqual({
      progress: null,
      pending: [],
      sameAsGiven: true,
      queried: true,
    })
  })

  it('fails to open a pool from a connection string in the same process, so the check bites', async () => {
    const output = await runScript(`
      const adapter = new PostgresStorageAdapter({ connectionString: 'postgres://nobody@127.0.0.1:1/none' })
      try {
        await adapter.pool()
        console.log('opened')
      } catch (error) {
        console.log(JSON.stringify([error?.message, error?.cause?.message]))
      }
    `)

    expect(JSON.parse(output)).toEqual([
      'pg could not be loaded; install it with `npm install pg`, or give the adapter a pool',
      'pg must not load',
    ])
  })
})
