import { CanonicalJsonError } from './errors.js'

/** Any value that Matrix canonical JSON can represent. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject

/** A JSON object, as parsed from or written to canonical JSON. */
export interface JsonObject {
  [key: string]: JsonValue
}

/**
 * Compares two strings by Unicode code point, as canonical JSON sorts keys. JavaScript compares UTF-16
 * code units, which puts astral characters (stored as surrogates, D800–DFFF) before E000–FFFF; at the
 * first differing unit, moving the surrogates above that range gives code-point order.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x - y
  }
  return a.length - b.length
}

const hasIsWellFormed = typeof ''.isWellFormed === 'function'
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function isWellFormed(text: string): boolean {
  return hasIsWellFormed ? text.isWellFormed() : !LONE_SURROGATE.test(text)
}

const SIMPLE_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/**
 * Where the encoder is: the keys and indexes from the root down. Kept as a stack and written out
 * as `$.a[0]["b c"]` only when an error needs it, so a value that encodes pays for no path text.
 */
type Trail = Array<string | number>

function pathOf(trail: Trail): string {
  let path = '$'
  for (const key of trail) {
    if (typeof key === 'number') path += `[${key}]`
    else path += SIMPLE_KEY.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
  }
  return path
}

/**
 * Strings without a quote, a backslash, a control character or any surrogate: written between
 * quotes as they are, which is what `JSON.stringify` would give, at half the cost.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what needs escapes.
const NEEDS_NO_ESCAPE = /^[^"\\\u0000-\u001F\uD800-\uDFFF]*$/

/**
 * Writes a string as canonical JSON does. For well-formed strings `JSON.stringify` emits exactly the
 * escapes of the specification's grammar: `\"`, `\\`, `\b \f \n \r \t`, and `\u00xx` in lower-case
 * hex for the other control characters; everything else, U+007F and U+2028 included, stays literal.
 */
function encodeString(text: string, trail: Trail): string {
  if (NEEDS_NO_ESCAPE.test(text)) return `"${text}"`
  if (!isWellFormed(text)) {
    throw new CanonicalJsonError(pathOf(trail), 'string holds a lone surrogate')
  }
  return JSON.stringify(text)
}

function encodeNumber(value: number, trail: Trail): string {
  if (Number.isSafeInteger(value)) return value === 0 ? '0' : String(value)

  const path = pathOf(trail)
  if (!Number.isFinite(value)) throw new CanonicalJsonError(path, 'NaN and Infinity are not JSON')
  if (!Number.isInteger(value)) throw new CanonicalJsonError(path, 'floats are not allowed')
  throw new CanonicalJsonError(path, 'integers must lie within ±(2^53 − 1)')
}

/** Whether an object is plain: its prototype is Object.prototype or null. @internal */
export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function encodeValue(value: unknown, trail: Trail, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value, trail)
    case 'number':
      return encodeNumber(value, trail)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      if (value === null) return 'null'
      return encodeContainer(value, trail, ancestors)
    default:
      throw new CanonicalJsonError(pathOf(trail), `${typeof value} is not a JSON value`)
  }
}

function encodeContainer(value: object, trail: Trail, ancestors: Set<object>): string {
  if (ancestors.has(value)) throw new CanonicalJsonError(pathOf(trail), 'the value contains itself')
  ancestors.add(value)
  const text = Array.isArray(value)
    ? encodeArray(value, trail, ancestors)
    : encodeObject(value, trail, ancestors)
  ancestors.delete(value)
  return text
}

function encodeArray(items: unknown[], trail: Trail, ancestors: Set<object>): string {
  let out = '['
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ','
    trail.push(i)
    out += encodeValue(items[i], trail, ancestors)
    trail.pop()
  }
  return `${out}]`
}

function encodeObject(object: object, trail: Trail, ancestors: Set<object>): string {
  if (!isPlainObject(object)) {
    throw new CanonicalJsonError(
      pathOf(trail),
      `${object.constructor?.name ?? 'object'} is not a plain object`,
    )
  }
  const record = object as Record<string, unknown>
  const keys = Object.keys(record).sort(compareCodePoints)

  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    if (i > 0) out += ','
    trail.push(key)
    out += `${encodeString(key, trail)}:${encodeValue(record[key], trail, ancestors)}`
    trail.pop()
  }
  return `${out}}`
}

/**
 * Thrown inside the fast encoder when it meets anything it leaves to the exact one: an error to
 * report with its path, a key that needs escapes, or nesting deeper than {@link FAST_DEPTH}.
 */
const BAIL = Symbol('bail')

/** How deep the fast encoder goes; a deeper value, or a cycle, is handed to the exact encoder. */
const FAST_DEPTH = 64

/**
 * The common case, at about twice the speed of the exact encoder: well-formed values with plain
 * keys. It keeps no path and no set of ancestors (a cycle just grows past {@link FAST_DEPTH}), and
 * sorts keys natively by UTF-16 code unit, which is code-point order whenever no key holds a
 * surrogate; a key with a surrogate, a quote, a backslash or a control character makes it give up.
 * On anything unusual it throws {@link BAIL}, and the exact encoder runs from the start.
 */
function fastValue(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      if (NEEDS_NO_ESCAPE.test(value)) return `"${value}"`
      if (!isWellFormed(value)) throw BAIL
      return JSON.stringify(value)
    case 'number':
      if (!Number.isSafeInteger(value)) throw BAIL
      return value === 0 ? '0' : String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return 'null'
      if (depth >= FAST_DEPTH) throw BAIL
      if (Array.isArray(value)) return fastArray(value, depth + 1)
      if (!isPlainObject(value)) throw BAIL
      return fastObject(value as Record<string, unknown>, depth + 1)
    }
    default:
      throw BAIL
  }
}

function fastArray(items: unknown[], depth: number): string {
  let out = '['
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ','
    out += fastValue(items[i], depth)
  }
  return `${out}]`
}

/** Keys an object may have for {@link sortKeysByCodeUnit} to sort them itself. */
const INSERTION_SORT_MAX = 24

/**
 * Sorts keys in place by UTF-16 code unit, as `sort()` does, which is code point order for keys
 * without surrogates: by insertion for the few keys of an event's objects, which allocates nothing
 * (`sort()` allocates about a kilobyte of work space per call), and by `sort()` beyond.
 *
 * @internal
 */
export function sortKeysByCodeUnit(keys: string[]): string[] {
  if (keys.length > INSERTION_SORT_MAX) return keys.sort()
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string
    let j = i - 1
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string
      j--
    }
    keys[j + 1] = key
  }
  return keys
}

function fastObject(record: Record<string, unknown>, depth: number): string {
  const keys = sortKeysByCodeUnit(Object.keys(record))
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    if (!NEEDS_NO_ESCAPE.test(key)) throw BAIL
    out += `${i > 0 ? ',"' : '"'}${key}":${fastValue(record[key], depth)}`
  }
  return `${out}}`
}

/**
 * Encodes a value as Matrix canonical JSON (specification, appendix "Canonical JSON"): object keys
 * sorted by Unicode code point, no insignificant whitespace, only the escapes the grammar allows,
 * integers within ±(2^53 − 1) and `-0` written as `0`. Signatures are computed over the UTF-8 bytes
 * of this text.
 *
 * Not RFC 8785: the `canonicalize` package sorts by UTF-16 code units and orders
 * `{"\uFF61":1,"\u{1F600}":2}` the other way round from Matrix.
 *
 * @throws {CanonicalJsonError} for a float, an unsafe integer, `undefined`, a function, a symbol, a
 *   bigint, NaN, Infinity, a lone surrogate, a cycle or an object that is not plain. The error's
 *   `path` (and message) names where the value sits, never the value.
 * @example encodeCanonicalJson({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function encodeCanonicalJson(value: unknown): string {
  try {
    return fastValue(value, 0)
  } catch (error) {
    if (error !== BAIL) throw error
  }
  try {
    return encodeValue(value, [], new Set())
  } catch (error) {
    if (error instanceof RangeError) throw new CanonicalJsonError('$', 'nested too deeply')
    throw error
  }
}

const encoder = new TextEncoder()

/** The UTF-8 bytes of {@link encodeCanonicalJson}, which is what gets hashed and signed. */
export function encodeCanonicalJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(encodeCanonicalJson(value))
}
