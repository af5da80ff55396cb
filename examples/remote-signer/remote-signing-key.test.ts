import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  encodeVerifyKeyBase64,
  generateSigningKey,
  SignerError,
  signJson,
  verifySignedJson,
} from 'matrix-background-updates'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { remoteSigningKey } from './remote-signing-key.js'

/** A stand-in signing service on loopback: it holds the seed and signs what is POSTed to /sign. */
const held = generateSigningKey('2')
let server: Server
let base: URL

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const message = new Uint8Array(Buffer.concat(chunks))

    if (request.url === '/sign') response.end(await held.sign(message))
    else if (request.url === '/short') response.end(new Uint8Array(32))
    else response.writeHead(503).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
})

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('a remote signing key', () => {
  const publicKey = encodeVerifyKeyBase64(held.verifyKey)

  it('signs JSON through the service, as the local key would', async () => {
    const remote = remoteSigningKey('2', publicKey, new URL('/sign', base))
    const signed = await signJson({ hello: 'world' }, 'example.org', remote)

    expect(signed).toEqual(await signJson({ hello: 'world' }, 'example.org', held))
    expect(await verifySignedJson(signed, 'example.org', remote.verifyKey)).toBe(true)
  })

  it('fails with a SignerError when the service is down', async () => {
    const remote = remoteSigningKey('2', publicKey, new URL('/down', base))
    const error = await signJson({}, 'example.org', remote).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SignerError)
    expect(String((error as SignerError).cause)).toMatch(/503/)
  })

  it('fails with a SignerError when the service answers with other than a signature', async () => {
    const remote = remoteSigningKey('2', publicKey, new URL('/short', base))
    await expect(signJson({}, 'example.org', remote)).rejects.toThrow(SignerError)
  })
})
