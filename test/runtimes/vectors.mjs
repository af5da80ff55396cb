// The primitives' vectors, runnable on any JavaScript runtime: Node, Bun, Deno and workerd. Given the
// package's exports, runVectors checks canonical JSON, base64, key derivation, Synapse's signing
// vectors, verification and the key file format, and reports every failure instead of stopping at
// the first. It uses nothing but the package and the language, so it runs where the package runs.

const SEED = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'
const VERIFY_KEY = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI'
const EMPTY_SIGNATURE =
  'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ'
const ONE_TWO_SIGNATURE =
  'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw'

const canonical = [
  [{}, '{}'],
  [{ two: 'Two', one: 1 }, '{"one":1,"two":"Two"}'],
  [{ 本: 2, 日: 1 }, '{"日":1,"本":2}'],
  [{ a: -0, b: 1e10 }, '{"a":0,"b":10000000000}'],
  [{ '\u{1F600}': 2, '\uFF61': 1 }, '{"\uFF61":1,"\u{1F600}":2}'],
  [{ a: '\u0000\u001f\u007f\u2028"\\\n' }, '{"a":"\\u0000\\u001f\u007f\u2028\\"\\\\\\n"}'],
  [
    [9007199254740991, -9007199254740991, null, true],
    '[9007199254740991,-9007199254740991,null,true]',
  ],
]

/** The name of the error `run` throws, or 'nothing'. */
function thrown(run) {
  try {
    run()
    return 'nothing'
  } catch (error) {
    return `${error?.name}:${error?.code}:${error?.path ?? ''}`
  }
}

const utf8 = (text) => new TextEncoder().encode(text)

function checks(lib) {
  const key = () => lib.decodeSigningKeyBase64('ed25519', '1', SEED)
  const list = canonical.map(([value, expected], i) => [
    `canonical JSON example ${i}`,
    () => lib.encodeCanonicalJson(value),
    expected,
  ])
  return [
    ...list,
    [
      'a float is refused',
      () => thrown(() => lib.encodeCanonicalJson({ a: [0.5] })),
      'CanonicalJsonError:ERR_CANONICAL_JSON:$.a[0]',
    ],
    [
      'a lone surrogate is refused',
      () => thrown(() => lib.encodeCanonicalJson({ s: '\ud800' })),
      'CanonicalJsonError:ERR_CANONICAL_JSON:$.s',
    ],
    ['base64 encodes unpadded', () => lib.encodeBase64(utf8('fooba')), 'Zm9vYmE'],
    ['base64 decodes padded', () => Array.from(lib.decodeBase64('Zm8=')).join(','), '102,111'],
    [
      'bad base64 is refused',
      () => thrown(() => lib.decodeBase64('Zm9vY')),
      'Base64Error:ERR_BASE64:',
    ],
    [
      'the verify key is derived',
      () => lib.encodeVerifyKeyBase64(lib.getVerifyKey(key())),
      VERIFY_KEY,
    ],
    [
      'a bad version is refused',
      () => thrown(() => lib.generateSigningKey('a-b')),
      'KeyFormatError:ERR_KEY_FORMAT:',
    ],
    [
      '{} is signed as Synapse signs it',
      async () => (await lib.signJson({}, 'domain', key())).signatures.domain['ed25519:1'],
      EMPTY_SIGNATURE,
    ],
    [
      '{"one":1,"two":"Two"} is signed as Synapse signs it',
      async () =>
        (await lib.signJson({ one: 1, two: 'Two' }, 'domain', key())).signatures.domain[
          'ed25519:1'
        ],
      ONE_TWO_SIGNATURE,
    ],
    [
      'a signature verifies, and not once the object changed',
      async () => {
        const verifyKey = lib.parseVerifyKey(`ed25519:1 ${VERIFY_KEY}`)
        const signed = {
          one: 1,
          two: 'Two',
          signatures: { domain: { 'ed25519:1': ONE_TWO_SIGNATURE } },
        }
        const good = await lib.verifySignedJson(signed, 'domain', verifyKey)
        const bad = await lib.verifySignedJson({ ...signed, two: 2 }, 'domain', verifyKey)
        return `${good},${bad}`
      },
      'true,false',
    ],
    [
      'a generated key signs what its verify key accepts',
      async () => {
        const generated = lib.generateSigningKey('fresh')
        const signed = await lib.signJson({ a: 1 }, 'example.org', generated)
        return String(await lib.verifySignedJson(signed, 'example.org', generated.verifyKey))
      },
      'true',
    ],
    [
      'a key file round-trips',
      () => {
        const text = lib.writeSigningKeys(lib.readSigningKeys(`\r\ned25519 1 ${SEED}\r\n`))
        return `${text}|${thrown(() => lib.readSigningKeys(`\ned25519 1 ${SEED.slice(1)}`))}`
      },
      'ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n|KeyFileError:ERR_KEY_FILE:',
    ],
    [
      'pure-JS signing gives the same signature',
      async () => {
        lib.selectSigningBackend('pure-js')
        try {
          return (await lib.signJson({ one: 1, two: 'Two' }, 'domain', key())).signatures.domain[
            'ed25519:1'
          ]
        } finally {
          lib.selectSigningBackend('native')
        }
      },
      ONE_TWO_SIGNATURE,
    ],
  ]
}

/**
 * Runs every check against `lib`, the package's exports.
 * @returns the crypto backend in use, how many checks ran, and each failure with what it gave.
 */
export async function runVectors(lib) {
  const failures = []
  const list = checks(lib)
  for (const [name, run, expected] of list) {
    try {
      const actual = await run()
      if (actual !== expected) failures.push({ name, expected, actual })
    } catch (error) {
      failures.push({ name, expected, actual: `threw ${error?.name}: ${error?.message}` })
    }
  }
  return { backend: lib.cryptoBackendName, checks: list.length, failures }
}
