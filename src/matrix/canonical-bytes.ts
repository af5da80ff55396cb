import { isPlainObject, type JsonObject, sortKeysByCodeUnit } from './canonical-json.js'
import { isJsonObject, keptTopLevelKeys, redactContent } from './redaction.js'
import type { RoomVersionRules } from './room-versions.js'

/**
 * Canonical JSON written straight to UTF-8 bytes, for the re-signer's hot path: one pass over each
 * string that checks, escapes and encodes it at once, into shared slabs, without building any
 * string. It covers what events are made of and gives up (undefined) on anything else (a lone
 * surrogate, a key with any surrogate, a float or unsafe integer, a value that is not JSON, nesting
 * deeper than {@link MAX_DEPTH}); the caller then uses the string encoder, which reports errors with
 * their paths. Its bytes are those of `encodeCanonicalJsonBytes` wherever it gives any (checked by
 * test/matrix/canonical-bytes.property.test.ts).
 */

/** Bytes a slab holds; a form that outgrows what is left moves to a new slab. */
const SLAB_SIZE = 64 * 1024

/** How deep the writer goes before it leaves a value to the string encoder. */
const MAX_DEPTH = 64

/** Thrown inside the writer when it gives up; never leaves this module. */
const GIVE_UP = Symbol('give up')

/**
 * The slab being written, and where the next byte goes. Nothing is ever written over: each form
 * gets a part of its own, and a full slab is left to the collector once the views of its parts
 * are. A view's `buffer` therefore holds other events' forms, which are public data.
 */
let slab = new Uint8Array(0)
let at = 0
/** Where the form being written began in `slab`; moved with it when the slab is replaced. */
let formStart = 0
/** Set while a form is written, so that a getter that calls back in gets undefined instead. */
let writing = false

/** Makes room for `bytes` more bytes, moving the form written so far to a new slab if needed. */
function reserve(bytes: number): void {
  if (at + bytes <= slab.length) return
  const written = at - formStart
  const next = new Uint8Array(Math.max(SLAB_SIZE, 2 * (written + bytes)))
  next.set(slab.subarray(formStart, at))
  slab = next
  formStart = 0
  at = written
}

function writeAscii(text: string): void {
  reserve(text.length)
  for (let i = 0; i < text.length; i++) slab[at++] = text.charCodeAt(i)
}

function writeByte(byte: number): void {
  reserve(1)
  slab[at++] = byte
}

const HEX = '0123456789abcdef'

/** 1 for each character below U+0080 written as it is: not a control, a quote or a backslash. */
const PLAIN = new Uint8Array(128)
for (let code = 0x20; code < 0x80; code++) PLAIN[code] = code === 0x22 || code === 0x5c ? 0 : 1

/**
 * The letter of each two-character escape by character (`\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`);
 * 0 for the characters escaped as `\u00xx`.
 */
const SHORT_ESCAPES = new Uint8Array(128)
for (const [code, letter] of [
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0x08, 0x62],
  [0x09, 0x74],
  [0x0a, 0x6e],
  [0x0c, 0x66],
  [0x0d, 0x72],
] as const) {
  SHORT_ESCAPES[code] = letter
}

/** The escape of a character below U+0080 that canonical JSON escapes, at `p`; the new end. */
function writeEscape(out: Uint8Array, p: number, code: number): number {
  out[p++] = 0x5c
  const letter = SHORT_ESCAPES[code] as number
  if (letter !== 0) {
    out[p++] = letter
    return p
  }
  // The other control characters: \u00xx in lower-case hex.
  out[p++] = 0x75
  out[p++] = 0x30
  out[p++] = 0x30
  out[p++] = HEX.charCodeAt(code >> 4)
  out[p++] = HEX.charCodeAt(code & 15)
  return p
}

/**
 * A string between quotes, as canonical JSON escapes it and UTF-8 encodes it. A lone surrogate
 * gives up; so does any surrogate in a key (`key`), whose order would then differ by code point.
 */
function writeString(text: string, key: boolean): void {
  const length = text.length
  // At most 6 bytes per UTF-16 unit (\u00xx), and the quotes.
  reserve(6 * length + 2)
  const out = slab
  let p = at
  out[p++] = 0x22
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) {
      if (PLAIN[code] === 1) out[p++] = code
      else p = writeEscape(out, p, code)
    } else if (code < 0x800) {
      out[p++] = 0xc0 | (code >> 6)
      out[p++] = 0x80 | (code & 0x3f)
    } else if (code < 0xd800 || code > 0xdfff) {
      out[p++] = 0xe0 | (code >> 12)
      out[p++] = 0x80 | ((code >> 6) & 0x3f)
      out[p++] = 0x80 | (code & 0x3f)
    } else {
      const low = i + 1 < length ? text.charCodeAt(i + 1) : 0
      if (key || code > 0xdbff || low < 0xdc00 || low > 0xdfff) throw GIVE_UP
      const point = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
      out[p++] = 0xf0 | (point >> 18)
      out[p++] = 0x80 | ((point >> 12) & 0x3f)
      out[p++] = 0x80 | ((point >> 6) & 0x3f)
      out[p++] = 0x80 | (point & 0x3f)
      i++
    }
  }
  out[p++] = 0x22
  at = p
}

function writeValue(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      writeString(value, false)
      return
    case 'number':
      if (!Number.isSafeInteger(value)) throw GIVE_UP
      writeAscii(value === 0 ? '0' : String(value))
      return
    case 'boolean':
      writeAscii(value ? 'true' : 'false')
      return
    case 'object':
      if (value === null) writeAscii('null')
      else if (depth >= MAX_DEPTH) throw GIVE_UP
      else if (Array.isArray(value)) writeArray(value, depth + 1)
      else writeObject(value, depth + 1)
      return
    default:
      throw GIVE_UP
  }
}

function writeArray(items: unknown[], depth: number): void {
  writeByte(0x5b)
  for (let i = 0; i < items.length; i++) {
    if (i > 0) writeByte(0x2c)
    writeValue(items[i], depth)
  }
  writeByte(0x5d)
}

/** `"key":value`. */
function writeMember(key: string, value: unknown, depth: number): void {
  writeString(key, true)
  writeByte(0x3a)
  writeValue(value, depth)
}

function writeObject(value: object, depth: number): void {
  if (!isPlainObject(value)) throw GIVE_UP
  const record = value as Record<string, unknown>
  const keys = sortKeysByCodeUnit(Object.keys(record))
  writeByte(0x7b)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    if (i > 0) writeByte(0x2c)
    writeMember(key, record[key], depth)
  }
  writeByte(0x7d)
}

/** Members up to this many bytes are copied byte by byte. */
const SHORT_COPY = 64

/** Scratch for {@link encodeEventFormBytes}: member offsets within the content hash's form. */
let memberStarts = new Int32Array(32)
let memberEnds = new Int32Array(32)

/** Writes bytes `start` to `end` of `source` (a form written before) at the end of this form. */
function copyMember(source: Uint8Array, start: number, end: number): void {
  const length = end - start
  reserve(length)
  if (length <= SHORT_COPY) {
    // Most members are a few dozen bytes, which a loop copies faster than a call into the engine.
    const out = slab
    let p = at
    for (let i = start; i < end; i++) out[p++] = source[i] as number
  } else if (source.buffer === slab.buffer) {
    slab.copyWithin(at, source.byteOffset + start, source.byteOffset + end)
  } else {
    slab.set(source.subarray(start, end), at)
  }
  at += length
}

/** Runs `write` as one form and gives its bytes, or undefined when it gave up. */
function form(write: () => void): Uint8Array | undefined {
  formStart = at
  try {
    write()
  } catch (error) {
    at = formStart
    if (error === GIVE_UP) return undefined
    throw error
  }
  return slab.subarray(formStart, at)
}

/**
 * The UTF-8 bytes of `encodeCanonicalJson(value)`, or undefined where this writer leaves the value
 * to the string encoder. The bytes are a view of a shared slab (see above).
 *
 * @internal
 */
export function canonicalJsonBytesFast(value: unknown): Uint8Array | undefined {
  if (writing) return undefined
  writing = true
  try {
    return form(() => writeValue(value, 0))
  } finally {
    writing = false
  }
}

/** The canonical UTF-8 bytes of an event's two hashed forms. @internal */
export interface EventFormBytes {
  /** `encodeCanonicalJsonBytes(signedForm(event, rules))`: what signatures and the reference hash cover. */
  readonly signed: Uint8Array
  /**
   * What the content hash covers: the event without `unsigned`, `signatures` and `hashes`, and
   * from version 3 without `event_id`.
   */
  readonly content: Uint8Array
}

/**
 * Both hashed forms of an event, written from its members in one sorted pass each: the content
 * hash's form (everything but `unsigned`, `signatures`, `hashes` and, from version 3, `event_id`),
 * then the signed form (the kept members, `content` redacted, `hashes` included). Undefined
 * wherever the writer gives up, and for an event without a string `type` and an object `content`.
 *
 * @internal
 */
export function encodeEventFormBytes(
  event: JsonObject,
  rules: RoomVersionRules,
): EventFormBytes | undefined {
  const type = event.type
  const content = event.content
  if (writing || !isPlainObject(event) || typeof type !== 'string' || !isJsonObject(content)) {
    return undefined
  }
  const kept = keptTopLevelKeys(type, rules)
  const derivedId = rules.eventIdFormat !== 'origin-chosen'
  const keys = sortKeysByCodeUnit(Object.keys(event))
  const hashed = (key: string) =>
    key !== 'signatures' && key !== 'unsigned' && !(derivedId && key === 'event_id')

  // Where each member of the content hash's form lies in it, by the key's index: the signed form
  // copies the members the two share instead of writing them again.
  if (memberEnds.length < keys.length) {
    memberStarts = new Int32Array(2 * keys.length)
    memberEnds = new Int32Array(2 * keys.length)
  }
  const starts = memberStarts
  const ends = memberEnds
  writing = true
  try {
    const whole = form(() => {
      let first = true
      writeByte(0x7b)
      for (let index = 0; index < keys.length; index++) {
        const key = keys[index] as string
        if (!hashed(key) || key === 'hashes') continue
        if (!first) writeByte(0x2c)
        first = false
        starts[index] = at - formStart
        writeMember(key, event[key], 1)
        ends[index] = at - formStart
      }
      writeByte(0x7d)
    })
    if (whole === undefined) return undefined
    const signed = form(() => {
      let first = true
      writeByte(0x7b)
      for (let index = 0; index < keys.length; index++) {
        const key = keys[index] as string
        if (!hashed(key) || !kept.has(key)) continue
        if (!first) writeByte(0x2c)
        first = false
        if (key === 'content') writeMember(key, redactContent(type, content, rules), 1)
        else if (key === 'hashes') writeMember(key, event[key], 1)
        else copyMember(whole, starts[index] as number, ends[index] as number)
      }
      writeByte(0x7d)
    })
    return signed === undefined ? undefined : { signed, content: whole }
  } finally {
    writing = false
  }
}
