// The re-signer's byte writer for canonical JSON against the string encoder: the same bytes
// wherever it gives any, undefined for what canonical JSON cannot express, and views that later
// writes never touch.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeCanonicalJsonBytes } from '../../src/index.js'
import { canonicalJsonBytesFast } from '../../src/matrix/canonical-bytes.js'
import { canonicalJsonValue, unicodeText } from './json-arbitraries.js'

const runs = process.env.CI === 'true' ? 5_000 : 500

/** Whether a value holds a key with a surrogate somewhere (the writer gives those up). */
function hasSurrogateKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasSurrogateKey)
  if (typeof value !== 'object' || value === null) return false
  return Object.entries(value).some(
    ([key, item]) => /[\ud800-\udfff]/.test(key) || hasSurrogateKey(item),
  )
}

describe('canonicalJsonBytesFast', () => {
  it('writes the bytes of encodeCanonicalJsonBytes for any canonical JSON value', () => {
    fc.assert(
      fc.property(canonicalJsonValue, (value) => {
        const bytes = canonicalJsonBytesFast(value)
        if (hasSurrogateKey(value)) expect(bytes).toBeUndefined()
        else expect(bytes).toEqual(encodeCanonicalJsonBytes(value))
      }),
      { numRuns: runs },
    )
  })

  it('escapes, encodes and keeps literal every character as the string encoder does', () => {
    fc.assert(
      fc.property(unicodeText(40), (text) => {
        expect(canonicalJsonBytesFast(text)).toEqual(encodeCanonicalJsonBytes(text))
        expect(canonicalJsonBytesFast({ [text.replace(/[\ud800-\udfff]/g, 'x')]: text })).toEqual(
          encodeCanonicalJsonBytes({ [text.replace(/[\ud800-\udfff]/g, 'x')]: text }),
        )
      }),
      { numRuns: runs },
    )
    expect(
      new TextDecoder().decode(canonicalJsonBytesFast('"\\\b\f\n\r\t\u0000\u001f\u007f\u2028')),
    ).toBe('"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\u007f\u2028"')
  })

  it('gives up, never writes, on what canonical JSON cannot express', () => {
    for (const value of [
      1.5,
      -0.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      undefined,
      () => 1,
      Symbol('s'),
      10n,
      new Date(0),
      new Map(),
      'lone \ud800 surrogate',
      'lone \udc00 low',
      'ends high \ud83d',
      { nested: [1, { deeper: 0.1 }] },
      [undefined],
    ]) {
      expect(canonicalJsonBytesFast(value)).toBeUndefined()
    }
    let deep: unknown = 0
    for (let i = 0; i < 100; i++) deep = [deep]
    expect(canonicalJsonBytesFast(deep)).toBeUndefined()
    expect(canonicalJsonBytesFast(-0)).toEqual(encodeCanonicalJsonBytes(0))
  })

  it('leaves every view as written while later values fill and outgrow its slabs', () => {
    const written: [Uint8Array, Uint8Array][] = []
    const big = 'x'.repeat(100_000)
    for (let i = 0; i < 3_000; i++) {
      const value = i % 500 === 0 ? { big, i } : { i, text: `value ${i} ${'é'.repeat(i % 30)}` }
      written.push([canonicalJsonBytesFast(value) as Uint8Array, encodeCanonicalJsonBytes(value)])
    }
    for (const [view, expected] of written) expect(view).toEqual(expected)
  })

  it('answers undefined to a getter that calls back in while a value is written', () => {
    let inner: Uint8Array | undefined | 'unset' = 'unset'
    const value = {
      get a() {
        inner = canonicalJsonBytesFast({ b: 1 })
        return 1
      },
    }
    expect(canonicalJsonBytesFast(value)).toEqual(encodeCanonicalJsonBytes({ a: 1 }))
    expect(inner).toBeUndefined()
    expect(canonicalJsonBytesFast({ b: 1 })).toEqual(encodeCanonicalJsonBytes({ b: 1 }))
  })
})
