import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const DEMO = fileURLToPath(new URL('../examples/demo/demo.mjs', import.meta.url))

describe('the demo', () => {
  it('re-signs the database through the admin API and passes its own verification', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [DEMO])
    const counted = (pattern: RegExp) => Number(stdout.match(pattern)?.[1]?.replace(/,/g, ''))

    expect(stderr).toBe('')
    expect(stdout).toMatch(/Paused \(POST enabled false\): state disabled/)
    expect(stdout).toMatch(/Resuming \(POST enabled true\)/)
    expect(counted(/✓ ([\d,]+) events of ours re-signed/)).toBeGreaterThan(2000)
    expect(counted(/✓ ([\d,]+) events of ours skipped \(malformed 3\)/)).toBe(3)
    expect(counted(/✓ ([\d,]+) remote events byte-identical/)).toBeGreaterThan(500)
    expect(stdout).toMatch(/✓ room stats: \d+ of 24 rooms/)
    expect(stdout).toMatch(/✓ user directory: [\d,]+ users/)
    expect(stdout).toMatch(/\nDemo passed in [\d.]+ s\.\n$/)
  })
})
