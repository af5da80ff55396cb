import fc from 'fast-check'
import { Base64Error, decodeBase64, encodeBase64 } from 'matrix-background-updates'
import { describe, expect, it } from 'vitest'
import { signatureBase64 as defaultSignatureBase64 } from '../../src/matrix/crypto/backend.js'
import { signatureBase64 as nodeSignatureBase64 } from '../../src/matrix/crypto/backend.node.js'

const text = (value: string) => new TextEncoder().encode(value)

describe('encodeBase64', () => {
  it.each([
    ['', ''],
    ['f', 'Zg'],
    ['fo', 'Zm8'],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg'],
    ['fooba', 'Zm9vYmE'],
    ['foobar', 'Zm9vYmFy'],
  ])('encodes %j as the specification appendix shows: %j', (plain, encoded) => {
    expect(encodeBase64(text(plain))).toBe(encoded)
  })

  it('writes standard unpadded base64 for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const expected = Buffer.from(bytes).toString('base64').replace(/=+$/, '')
        expect(encodeBase64(bytes)).toBe(expected)
      }),
      { numRuns: 500 },
    )
  })

  it('encodes the bytes of a view, not of its whole buffer', () => {
    const buffer = Uint8Array.from([1, 2, 3, 4, 5, 6])
    expect(encodeBase64(buffer.subarray(2, 4))).toBe('AwQ')
  })

  it.each([
    ['default', defaultSignatureBase64],
    ['node', nodeSignatureBase64],
  ])('writes signatures as encodeBase64 does in the %s build, from views too', (_, encode) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(8), (bytes, offset) => {
        const view = new Uint8Array(bytes.length + offset + 3)
        view.set(bytes, offset)
        expect(encode(view.subarray(offset, offset + bytes.length))).toBe(encodeBase64(bytes))
      }),
      { numRuns: 500 },
    )
  })

  it('refuses what is not a Uint8Array with a TypeError', () => {
    expect(() => encodeBase64('abc' as never)).toThrow(TypeError)
    expect(() => encodeBase64([1, 2] as never)).toThrow(TypeError)
  })
})

describe('decodeBase64', () => {
  it.each([
    ['Zm9vYmE', 'fooba'],
    ['Zm9vYmE=', 'fooba'],
    ['Zm9vYg==', 'foob'],
    ['Zm9vYg', 'foob'],
    ['', ''],
  ])('decodes %j', (encoded, plain) => {
    expect(decodeBase64(encoded)).toEqual(text(plain))
  })

  it('decodes padded and unpadded text in both alphabets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const padded = Buffer.from(bytes).toString('base64')
        const urlSafe = Buffer.from(bytes).toString('base64url')
        for (const form of [
          padded,
          padded.replace(/=+$/, ''),
          urlSafe,
          `${urlSafe}${'='.repeat(padded.length - urlSafe.length)}`,
        ]) {
          expect(decodeBase64(form)).toEqual(new Uint8Array(bytes))
        }
        expect(decodeBase64(encodeBase64(bytes))).toEqual(new Uint8Array(bytes))
      }),
      { numRuns: 500 },
    )
  })

  it('ignores bits left over after the last whole byte, as Python does', () => {
    expect(decodeBase64('Zh')).toEqual(decodeBase64('Zg'))
  })

  it.each([
    ['a length no bytes encode to', 'Zm9vY'],
    ['a single character', 'A'],
    ['padding on an odd length', 'Zm8=='],
    ['one = too many', 'Zg='],
    ['three = signs', 'Z==='],
    ['only padding', '===='],
    ['padding in the middle', 'Zg==Zg=='],
    ['a space', 'Zm9v Yg'],
    ['a newline', 'Zm9v\n'],
    ['a character outside both alphabets', 'Zm9v!g'],
    ['a non-ASCII character', 'Zm9vé'],
    ['an astral character', 'Zm\u{1F600}'],
    ['both alphabets at once', 'ab+-'],
    ['both alphabets at once, the other way', 'a_c/'],
  ])('refuses %s with a Base64Error', (_name, bad) => {
    expect(() => decodeBase64(bad)).toThrow(Base64Error)
    try {
      decodeBase64(bad)
    } catch (error) {
      expect((error as Base64Error).code).toBe('ERR_BASE64')
    }
  })

  it('refuses exactly the text that is not base64', () => {
    const alphabet = fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= .!é',
    )
    const standard = /^[A-Za-z0-9+/]*$/
    const urlSafe = /^[A-Za-z0-9\-_]*$/
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 12 }), (candidate) => {
        const body = candidate.replace(/={1,2}$/, '')
        const padding = candidate.length - body.length
        const valid =
          (standard.test(body) || urlSafe.test(body)) &&
          body.length % 4 !== 1 &&
          (padding === 0 || (candidate.length % 4 === 0 && body.length % 4 === 4 - padding))
        if (valid) expect(() => decodeBase64(candidate)).not.toThrow()
        else expect(() => decodeBase64(candidate)).toThrow(Base64Error)
      }),
      { numRuns: 3000 },
    )
  })

  it('does not put the text in its message', () => {
    const secret = 'c2VjcmV0LXNlZWQtdGV4dA$'
    expect(() => decodeBase64(secret)).toThrow(Base64Error)
    try {
      decodeBase64(secret)
    } catch (error) {
      expect((error as Error).message).not.toContain('c2VjcmV0')
    }
  })

  it('refuses what is not a string with a TypeError', () => {
    expect(() => decodeBase64(42 as never)).toThrow(TypeError)
    expect(() => decodeBase64(null as never)).toThrow(TypeError)
  })
})
