import fc from 'fast-check'
import {
  decodeSigningKeyBase64,
  encodeVerifyKeyBase64,
  generateSigningKey,
  KeyFileError,
  readSigningKeys,
  type SigningKey,
  writeSigningKeys,
} from 'matrix-background-updates'
import { describe, expect, it } from 'vitest'
import { SEED_BASE64, SEED_BASE64_CANONICAL, VERIFY_KEY_BASE64 } from './synapse-vectors.js'

const OTHER_SEED = 'nlTkkZzVxQ9pvLH4yX3mW1Rk8sFhsR3f0XqaQDnQd7s'

function keyFileError(text: string): KeyFileError {
  try {
    readSigningKeys(text)
  } catch (error) {
    expect(error).toBeInstanceOf(KeyFileError)
    expect((error as KeyFileError).code).toBe('ERR_KEY_FILE')
    return error as KeyFileError
  }
  throw new Error('expected a KeyFileError, but the file was read')
}

const verifyKeyOf = (key: SigningKey) => encodeVerifyKeyBase64(key.verifyKey)

describe('readSigningKeys', () => {
  it('reads every key in order, the first being the current key', () => {
    const keys = readSigningKeys(`ed25519 a_1 ${SEED_BASE64}\ned25519 old ${OTHER_SEED}\n`)
    expect(keys.map((key) => key.keyId)).toEqual(['ed25519:a_1', 'ed25519:old'])
    expect(verifyKeyOf(keys[0] as SigningKey)).toBe(VERIFY_KEY_BASE64)
  })

  it('reads a file without a final newline', () => {
    expect(readSigningKeys(`ed25519 1 ${SEED_BASE64}`)).toHaveLength(1)
  })

  it('ignores blank lines and lines of whitespace', () => {
    const text = `\n\ned25519 1 ${SEED_BASE64}\n   \n\t\ned25519 2 ${OTHER_SEED}\n\n`
    expect(readSigningKeys(text).map((key) => key.version)).toEqual(['1', '2'])
  })

  it('reads CRLF line endings', () => {
    const text = `ed25519 1 ${SEED_BASE64}\r\n\r\ned25519 2 ${OTHER_SEED}\r\n`
    const keys = readSigningKeys(text)
    expect(keys.map((key) => key.version)).toEqual(['1', '2'])
    expect(verifyKeyOf(keys[0] as SigningKey)).toBe(VERIFY_KEY_BASE64)
  })

  it('accepts tabs and runs of spaces between the fields', () => {
    expect(readSigningKeys(`  ed25519\t1    ${SEED_BASE64}  `)[0]?.keyId).toBe('ed25519:1')
  })

  it('reads an empty file as no keys', () => {
    expect(readSigningKeys('')).toEqual([])
    expect(readSigningKeys('\n\n')).toEqual([])
  })

  it.each([
    ['a missing seed', 'ed25519 1', 1],
    ['an extra field', `ed25519 1 ${SEED_BASE64} extra`, 1],
    ['the seed alone', SEED_BASE64, 1],
    ['another algorithm', `curve25519 1 ${SEED_BASE64}`, 1],
    ['a key id instead of algorithm and version', `ed25519:1 ${SEED_BASE64}`, 1],
    ['a bad version', `ed25519 a-b ${SEED_BASE64}`, 1],
    ['a seed that is not base64', `ed25519 1 ${SEED_BASE64.slice(0, 42)}!`, 1],
    ['a short seed', `ed25519 1 ${SEED_BASE64.slice(0, 40)}`, 1],
    ['a long seed', `ed25519 1 ${SEED_BASE64}${SEED_BASE64}`, 1],
    [
      'a bad second key after a blank line',
      `ed25519 1 ${OTHER_SEED}\n\ned25519 2 ${SEED_BASE64}==`,
      3,
    ],
    [
      'a repeated key id',
      `ed25519 1 ${OTHER_SEED}\ned25519 2 ${OTHER_SEED}\r\ned25519 1 ${SEED_BASE64}`,
      3,
    ],
  ])('refuses %s by line number without echoing the seed', (_name, text, line) => {
    const error = keyFileError(text)
    expect(error.line).toBe(line)
    expect(error.message).toContain(`line ${line}`)
    expect(error.message).not.toContain(SEED_BASE64.slice(0, 20))
    expect(error.message).not.toContain(OTHER_SEED.slice(0, 20))
  })

  it('names the line of a malformed key among valid ones and blank lines', () => {
    const entry = fc.oneof(
      fc.constant(''),
      fc.constant('   '),
      fc.nat({ max: 1_000_000 }).map((n) => `ed25519 k${n} ${OTHER_SEED}`),
    )
    const bad = fc.constantFrom(
      `ed25519 x ${SEED_BASE64.slice(1)}`,
      `ed25519 x-y ${SEED_BASE64}`,
      `rsa x ${SEED_BASE64}`,
      `ed25519 ${SEED_BASE64}`,
    )
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 8 }),
        bad,
        fc.array(entry, { maxLength: 3 }),
        fc.boolean(),
        (before, line, after, crlf) => {
          const versions = new Set<string>()
          const unique = before.filter((l) => {
            const version = l.split(' ')[1]
            if (version === undefined) return true
            if (versions.has(version)) return false
            versions.add(version)
            return true
          })
          const text = [...unique, line, ...after].join(crlf ? '\r\n' : '\n')
          const error = keyFileError(text)
          expect(error.line).toBe(unique.length + 1)
          expect(error.message).not.toContain(SEED_BASE64.slice(2, 30))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('refuses what is not text with a TypeError', () => {
    expect(() => readSigningKeys(undefined as never)).toThrow(TypeError)
  })
})

describe('writeSigningKeys', () => {
  it('writes one "ed25519 <version> <seed>" line per key, in order', () => {
    const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)
    const other = decodeSigningKeyBase64('ed25519', 'b', OTHER_SEED)
    expect(writeSigningKeys([key, other])).toBe(
      `ed25519 1 ${SEED_BASE64_CANONICAL}\ned25519 b ${OTHER_SEED}\n`,
    )
  })

  it('writes nothing for no keys', () => {
    expect(writeSigningKeys([])).toBe('')
  })

  it('round-trips generated keys through readSigningKeys', async () => {
    const keys = [generateSigningKey('new'), generateSigningKey('a_0'), generateSigningKey('Z')]
    const read = readSigningKeys(writeSigningKeys(keys))
    expect(read.map((key) => key.keyId)).toEqual(keys.map((key) => key.keyId))
    expect(read.map(verifyKeyOf)).toEqual(keys.map(verifyKeyOf))

    const message = new Uint8Array([1, 2, 3])
    expect(await read[0]?.sign(message)).toEqual(await keys[0]?.sign(message))
  })

  it('refuses a key without a seed, such as a remote signer', () => {
    const local = generateSigningKey('1')
    const remote: SigningKey = {
      algorithm: 'ed25519',
      version: '1',
      keyId: 'ed25519:1',
      verifyKey: local.verifyKey,
      sign: (message) => local.sign(message),
    }
    expect(() => writeSigningKeys([remote as never])).toThrow(TypeError)
    expect(() => writeSigningKeys('ed25519 1 x' as never)).toThrow(TypeError)
  })
})
