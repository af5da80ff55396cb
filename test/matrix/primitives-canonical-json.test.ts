import fc from 'fast-check'
import {
  CanonicalJsonError,
  compareCodePoints,
  encodeCanonicalJson,
  encodeCanonicalJsonBytes,
} from 'matrix-background-updates'
import { describe, expect, it } from 'vitest'
import { canonicalJsonObject, canonicalJsonValue, unicodeText } from './json-arbitraries.js'

/** Catches what `encode` throws, failing the test when it throws nothing. */
function refusal(encode: () => unknown): CanonicalJsonError {
  try {
    encode()
  } catch (error) {
    expect(error).toBeInstanceOf(CanonicalJsonError)
    return error as CanonicalJsonError
  }
  throw new Error('expected a CanonicalJsonError, but the value was encoded')
}

/** Code points of a string, the order canonical JSON sorts keys in. */
const codePoints = (text: string): number[] => [...text].map((c) => c.codePointAt(0) as number)

function byCodePoints(a: string, b: string): number {
  const x = codePoints(a)
  const y = codePoints(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number)
  }
  return x.length - y.length
}

/** A copy of a JSON value whose objects list their keys in reverse insertion order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys)
  if (typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).reverse()) {
    Object.defineProperty(out, key, {
      value: reversedKeys((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}

describe('encodeCanonicalJson on the examples of the specification appendix', () => {
  const examples: Array<[string, unknown, string]> = [
    ['an empty object', {}, '{}'],
    ['two members', { one: 1, two: 'Two' }, '{"one":1,"two":"Two"}'],
    ['members out of order', { b: '2', a: '1' }, '{"a":"1","b":"2"}'],
    [
      'nested objects and arrays',
      {
        auth: {
          success: true,
          mxid: '@john.doe:example.com',
          profile: {
            display_name: 'John Doe',
            three_pids: [
              { medium: 'email', address: 'john.doe@example.org' },
              { medium: 'msisdn', address: '123456789' },
            ],
          },
        },
      },
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":' +
        '[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},' +
        '"success":true}}',
    ],
    ['non-ASCII text', { a: '日本語' }, '{"a":"日本語"}'],
    ['non-ASCII keys', { 本: 2, 日: 1 }, '{"日":1,"本":2}'],
    ['an escaped character written literally', JSON.parse('{"a":"\\u65E5"}'), '{"a":"日"}'],
    ['null', { a: null }, '{"a":null}'],
    ['-0 and 1e10', { a: -0, b: 1e10 }, '{"a":0,"b":10000000000}'],
  ]

  it.each(examples)('encodes %s as the specification does', (_name, value, expected) => {
    expect(encodeCanonicalJson(value)).toBe(expected)
  })

  it('encodes pretty-printed input as the specification does', () => {
    const text = '{\n    "b": "2",\n    "a": "1"\n}'
    expect(encodeCanonicalJson(JSON.parse(text))).toBe('{"a":"1","b":"2"}')
  })
})

describe('encodeCanonicalJson key order', () => {
  it('sorts keys by code point, not by UTF-16 code unit as RFC 8785 does', () => {
    expect(encodeCanonicalJson({ '\u{1F600}': 2, '\uFF61': 1 })).toBe('{"\uFF61":1,"\u{1F600}":2}')
    expect(['\u{1F600}', '\uFF61'].sort()).toEqual(['\u{1F600}', '\uFF61'])
  })

  it('sorts arbitrary Unicode keys by their code points', () => {
    fc.assert(
      fc.property(fc.uniqueArray(unicodeText(6), { maxLength: 12 }), (keys) => {
        const sorted = [...keys].sort(byCodePoints)
        const object = Object.fromEntries(keys.map((key) => [key, sorted.indexOf(key)]))
        const expected = `{${sorted.map((key, i) => `${JSON.stringify(key)}:${i}`).join(',')}}`
        expect(encodeCanonicalJson(object)).toBe(expected)
      }),
      { numRuns: 500 },
    )
  })

  it('compares strings by code point in compareCodePoints', () => {
    fc.assert(
      fc.property(unicodeText(6), unicodeText(6), (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(byCodePoints(a, b)))
      }),
      { numRuns: 2000 },
    )
  })

  it('gives the same text whatever order the keys were inserted in', () => {
    fc.assert(
      fc.property(canonicalJsonValue, (value) => {
        expect(encodeCanonicalJson(reversedKeys(value))).toBe(encodeCanonicalJson(value))
      }),
      { numRuns: 300 },
    )
  })

  it('sorts integer-like keys as text, not in the order JavaScript enumerates them', () => {
    expect(encodeCanonicalJson({ 10: 'a', 9: 'b', x: 'c', 1: 'd' })).toBe(
      '{"1":"d","10":"a","9":"b","x":"c"}',
    )
  })

  it('keeps an own __proto__ member as an ordinary key', () => {
    const value = JSON.parse('{"b":1,"__proto__":{"x":2}}')
    expect(encodeCanonicalJson(value)).toBe('{"__proto__":{"x":2},"b":1}')
  })
})

describe('encodeCanonicalJson output', () => {
  it('round-trips through JSON.parse', () => {
    fc.assert(
      fc.property(canonicalJsonValue, (value) => {
        const text = encodeCanonicalJson(value)
        expect(JSON.parse(text)).toEqual(value)
        expect(encodeCanonicalJson(JSON.parse(text))).toBe(text)
      }),
      { numRuns: 500 },
    )
  })

  it('has no whitespace outside strings', () => {
    fc.assert(
      fc.property(canonicalJsonObject, (value) => {
        const outsideStrings = encodeCanonicalJson(value).replace(/"(?:[^"\\]|\\.)*"/g, '""')
        expect(outsideStrings).not.toMatch(/\s/)
      }),
      { numRuns: 300 },
    )
  })

  it('escapes exactly the characters the grammar requires, in its forms', () => {
    const short: Record<number, string> = {
      8: '\\b',
      9: '\\t',
      10: '\\n',
      12: '\\f',
      13: '\\r',
      34: '\\"',
      92: '\\\\',
    }
    for (let code = 0; code <= 0xffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue
      const char = String.fromCharCode(code)
      const expected =
        short[code] ?? (code < 0x20 ? `\\u00${code.toString(16).padStart(2, '0')}` : char)
      if (encodeCanonicalJson(char) !== `"${expected}"`) {
        expect.fail(`U+${code.toString(16)} is written ${encodeCanonicalJson(char)}`)
      }
    }
    expect(encodeCanonicalJson('\u{10FFFF}\u{1F600}')).toBe('"\u{10FFFF}\u{1F600}"')
  })

  it('writes U+007F, U+2028 and U+2029 literally', () => {
    expect(encodeCanonicalJson({ a: '\u007f\u2028\u2029' })).toBe('{"a":"\u007f\u2028\u2029"}')
  })

  it('writes -0 as 0 and the largest safe integers in full', () => {
    expect(encodeCanonicalJson(-0)).toBe('0')
    expect(encodeCanonicalJson([-0, 0])).toBe('[0,0]')
    expect(encodeCanonicalJson(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991')
    expect(encodeCanonicalJson(-Number.MAX_SAFE_INTEGER)).toBe('-9007199254740991')
    expect(encodeCanonicalJson(1e15)).toBe('1000000000000000')
  })

  it('encodes top-level scalars and arrays', () => {
    expect(encodeCanonicalJson(null)).toBe('null')
    expect(encodeCanonicalJson(true)).toBe('true')
    expect(encodeCanonicalJson(false)).toBe('false')
    expect(encodeCanonicalJson('')).toBe('""')
    expect(encodeCanonicalJson([])).toBe('[]')
    expect(encodeCanonicalJson([{ b: [], a: {} }])).toBe('[{"a":{},"b":[]}]')
  })

  it('accepts objects without a prototype', () => {
    const value = Object.assign(Object.create(null), { b: 1, a: 2 })
    expect(encodeCanonicalJson(value)).toBe('{"a":2,"b":1}')
  })

  it('does not change its input, frozen or not', () => {
    fc.assert(
      fc.property(canonicalJsonObject, (value) => {
        const before = structuredClone(value)
        encodeCanonicalJson(value)
        expect(value).toEqual(before)
      }),
      { numRuns: 100 },
    )
    const frozen = Object.freeze({ b: Object.freeze([1, 2]), a: 'x' })
    expect(encodeCanonicalJson(frozen)).toBe('{"a":"x","b":[1,2]}')
  })

  it('encodes to UTF-8 bytes in encodeCanonicalJsonBytes', () => {
    const bytes = encodeCanonicalJsonBytes({ b: '\u{1F600}', a: '日' })
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(bytes).toString('hex')).toBe(
      Buffer.from('{"a":"日","b":"\u{1F600}"}', 'utf8').toString('hex'),
    )
  })

  it('encodes values nested deeper than its fast path goes, and keys that need escapes', () => {
    let value: unknown = { z: 1, 'a"b': '\u0001' }
    let expected = '{"a\\"b":"\\u0001","z":1}'
    for (let depth = 0; depth < 150; depth++) {
      value = depth % 2 === 0 ? [value, depth] : { b: value, a: depth }
      expected = depth % 2 === 0 ? `[${expected},${depth}]` : `{"a":${depth},"b":${expected}}`
    }
    expect(encodeCanonicalJson(value)).toBe(expected)
  })

  it('encodes the same value referenced twice, which is no cycle', () => {
    const shared = { x: 1 }
    expect(encodeCanonicalJson({ a: shared, b: [shared, shared] })).toBe(
      '{"a":{"x":1},"b":[{"x":1},{"x":1}]}',
    )
  })
})

describe('encodeCanonicalJson refusals', () => {
  class Custom {
    secret = 'class-field'
  }

  const refused: Array<[string, unknown, string]> = [
    ['a float', { a: 1.5 }, '$.a'],
    ['an integer above 2^53 − 1', { a: [1, 2 ** 53] }, '$.a[1]'],
    ['an integer below −(2^53 − 1)', { a: -(2 ** 53) }, '$.a'],
    ['undefined', { a: { b: undefined } }, '$.a.b'],
    ['undefined at the top', undefined, '$'],
    ['a hole in an array', { list: Object.assign(new Array(3), { 0: 1, 2: 3 }) }, '$.list[1]'],
    ['a function', [() => 1], '$[0]'],
    ['a symbol', { s: Symbol('x') }, '$.s'],
    ['a bigint', { big: 10n }, '$.big'],
    ['NaN', Number.NaN, '$'],
    ['Infinity', { x: Number.POSITIVE_INFINITY }, '$.x'],
    ['-Infinity', { x: [Number.NEGATIVE_INFINITY] }, '$.x[0]'],
    ['a lone high surrogate', { text: 'a\ud800b' }, '$.text'],
    ['a lone low surrogate', { text: '\udc00' }, '$.text'],
    ['a lone surrogate in a key', { '\ud83d': 1 }, '$["\\ud83d"]'],
    ['a Date', { when: new Date(0) }, '$.when'],
    ['a Map', { m: new Map() }, '$.m'],
    ['a Uint8Array', { bytes: new Uint8Array(2) }, '$.bytes'],
    ['a class instance', { c: new Custom() }, '$.c'],
    ['a boxed string', { s: new String('x') }, '$.s'],
    ['a value under a key that needs quoting', { 'a b': { 'c.d': 0.5 } }, '$["a b"]["c.d"]'],
  ]

  it.each(refused)('refuses %s with the path of the value', (_name, value, path) => {
    const error = refusal(() => encodeCanonicalJson(value))
    expect(error.path).toBe(path)
    expect(error.code).toBe('ERR_CANONICAL_JSON')
    expect(error.message).toContain(path)
  })

  it('refuses a cycle through an object', () => {
    const value: Record<string, unknown> = { a: { list: [] } }
    ;((value.a as Record<string, unknown>).list as unknown[]).push(value)
    expect(refusal(() => encodeCanonicalJson(value)).path).toBe('$.a.list[0]')
  })

  it('refuses an array that contains itself', () => {
    const value: unknown[] = [1]
    value.push(value)
    expect(refusal(() => encodeCanonicalJson(value)).path).toBe('$[1]')
  })

  it('refuses nesting too deep for the stack with a typed error', () => {
    let value: unknown = []
    for (let i = 0; i < 200_000; i++) value = [value]
    expect(refusal(() => encodeCanonicalJson(value)).path).toBe('$')
  })

  it('never puts the refused value in the message', () => {
    const secrets: Array<[unknown, string]> = [
      [1.2345678, '1.2345678'],
      [98765432109876543210n, '98765432109876543210'],
      [Symbol('secret-symbol'), 'secret-symbol'],
      [function secretFunction() {}, 'secretFunction'],
      ['secret-text\ud800', 'secret-text'],
      [2 ** 64, '18446744073709552000'],
      [new Custom(), 'class-field'],
    ]
    for (const [value, text] of secrets) {
      const error = refusal(() => encodeCanonicalJson({ field: value }))
      expect(error.message).not.toContain(text)
      expect(error.path).toBe('$.field')
    }
  })

  it('refuses every bad value wherever it sits, naming its path and not its value', () => {
    const badValue = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
      fc.double({ min: 2 ** 53, noNaN: true }),
      fc.double({ max: -(2 ** 53), noNaN: true }),
      fc.constantFrom(undefined, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      fc.bigInt(),
      fc.string().map((s) => Symbol(s)),
      fc.func(fc.nat()),
      fc.constantFrom('\ud800', 'x\udbff', '\udfff y'),
      fc.constant(new Date(1)),
    )
    const step = fc.oneof(unicodeText(5), fc.nat({ max: 3 }))

    fc.assert(
      fc.property(fc.array(step, { maxLength: 5 }), badValue, (steps, bad) => {
        let value: unknown = bad
        for (const key of [...steps].reverse()) {
          if (typeof key === 'number') {
            const list: unknown[] = new Array(key + 1).fill(null)
            list[key] = value
            value = list
          } else {
            value = Object.defineProperty({}, key, { value, enumerable: true })
          }
        }
        const path = steps
          .map((key) =>
            typeof key === 'number'
              ? `[${key}]`
              : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)
                ? `.${key}`
                : `[${JSON.stringify(key)}]`,
          )
          .join('')

        const error = refusal(() => encodeCanonicalJson(value))
        expect(error.path).toBe(`$${path}`)
        if (typeof bad === 'number' && Number.isFinite(bad)) {
          expect(error.message.replace(error.path, '')).not.toContain(String(bad))
        }
      }),
      { numRuns: 500 },
    )
  })
})
