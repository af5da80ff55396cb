import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { encodeBase64, encodeCanonicalJsonBytes } from 'matrix-background-updates'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { canonicalJsonObject, canonicalJsonValue } from '../matrix/json-arbitraries.js'
import { describeWithPython, PythonPeer } from './python.js'

const PEER = fileURLToPath(new URL('./peer.py', import.meta.url))

describeWithPython('canonical JSON against python3-canonicaljson', () => {
  let python: PythonPeer

  beforeAll(() => {
    python = new PythonPeer(PEER)
  })

  afterAll(() => python.close())

  /** Encodes every value on both sides, in one request, and names the first that differs. */
  async function expectSameBytes(values: unknown[], seed: number): Promise<void> {
    const answer = await python.request('canonical_many', { values })
    expect(answer.error).toBeUndefined()
    const theirs = answer.bytes as string[]
    expect(theirs).toHaveLength(values.length)

    values.forEach((value, i) => {
      const ours = encodeBase64(encodeCanonicalJsonBytes(value))
      if (ours !== theirs[i]) {
        expect.fail(
          `value ${i} of fast-check seed ${seed} encodes differently:\n` +
            `ours:   ${Buffer.from(ours, 'base64').toString('utf8')}\n` +
            `Python: ${Buffer.from(theirs[i] as string, 'base64').toString('utf8')}`,
        )
      }
    })
  }

  it('writes the same bytes for 1,500 generated objects', async () => {
    const seed = Date.now() % 2 ** 31
    const values = fc.sample(canonicalJsonObject, { numRuns: 1500, seed })
    await expectSameBytes(values, seed)
  })

  it('writes the same bytes for 500 generated values of every kind', async () => {
    const seed = (Date.now() + 1) % 2 ** 31
    await expectSameBytes(fc.sample(canonicalJsonValue, { numRuns: 500, seed }), seed)
  })

  it('writes the same bytes for the cases most likely to differ', async () => {
    const cases: unknown[] = [
      { '\uFF61': 1, '\u{1F600}': 2, '\uE000': 3, '\uD7FF': 4, '\u{10FFFF}': 5 },
      { a: '\u0000\u0001\u0008\u0009\u000a\u000b\u000c\u000d\u001f\u0020\u007f\u0080' },
      { a: '\u2028\u2029\uFEFF\uFFFF"\\/' },
      { big: Number.MAX_SAFE_INTEGER, small: -Number.MAX_SAFE_INTEGER, zero: -0 },
      { nested: [[[[[[[[[[{ deep: [] }]]]]]]]]]] },
      { '': '', ' ': ' ', 10: 1, 9: 2, '01': 3 },
      JSON.parse('{"__proto__":{"a":1}}'),
    ]
    await expectSameBytes(cases, 0)
  })
})
