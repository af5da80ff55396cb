// The remote signer of docs/signing.md: a SigningKey whose seed stays in a signing service. The
// documentation's example is this file's function, word for word (test/docs checks it).
import { decodeVerifyKeyBase64, type SigningKey } from 'matrix-background-updates'

/** A key held by a signing service that answers a POST of the message with the raw signature. */
export function remoteSigningKey(
  version: string,
  publicKeyBase64: string,
  endpoint: URL,
): SigningKey {
  const verifyKey = decodeVerifyKeyBase64('ed25519', version, publicKeyBase64)
  return {
    algorithm: 'ed25519',
    version,
    keyId: verifyKey.keyId,
    verifyKey,
    async sign(message) {
      // fetch takes bytes over an ArrayBuffer; slice() gives such a copy whatever backs message.
      const response = await fetch(endpoint, { method: 'POST', body: message.slice() })
      if (!response.ok) throw new Error(`the signing service answered ${response.status}`)
      return new Uint8Array(await response.arrayBuffer())
    },
  }
}
