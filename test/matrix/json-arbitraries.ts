/**
 * fast-check arbitraries for values that canonical JSON accepts, leaning on what tends to go wrong:
 * astral-plane and private-use keys (code point versus UTF-16 order), characters that need escapes,
 * controls, U+007F and U+2028 (which must stay literal), deep nesting and the largest safe integers.
 */
import fc from 'fast-check'

/** Characters worth meeting often: escapes, controls, the UTF-16 versus code point boundary. */
const TRICKY = [
  '"',
  '\\',
  '/',
  '\b',
  '\f',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0080',
  '\u2028',
  '\u2029',
  '\ud7ff',
  '\ue000',
  '\uff61',
  '\ufeff',
  '\uffff',
  '\u{10000}',
  '\u{1f600}',
  '\u{10ffff}',
  'a',
  'B',
  '0',
  ' ',
  'é',
  '日',
]

/** A string of any well-formed Unicode, with the tricky characters above mixed in often. */
export const unicodeText = (maxLength = 8): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.constantFrom(...TRICKY), maxLength }),
    fc.string({
      unit: fc.oneof(
        fc.constantFrom(...TRICKY),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
      maxLength,
    }),
  )

/** An integer canonical JSON accepts, the edges of the safe range included. */
export const safeInteger: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.constantFrom(
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    2 ** 31,
    -(2 ** 31),
    2 ** 32,
    0,
  ),
)

const scalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  safeInteger,
  unicodeText(12),
)

/** Any value canonical JSON accepts: scalars, arrays and objects nested a few levels deep. */
export const { json: canonicalJsonValue, object: canonicalJsonObject } = fc.letrec<{
  json: unknown
  object: Record<string, unknown>
}>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', maxDepth: 6 },
    scalar,
    fc.array(tie('json'), { maxLength: 5 }),
    tie('object'),
  ),
  object: fc.dictionary(unicodeText(6), tie('json'), { maxKeys: 6 }),
}))

/** A canonical JSON value written the same way by every encoder: without `-0`. */
export function withoutNegativeZero(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value))
}
