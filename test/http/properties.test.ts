/**
 * Arbitrary requests in process: whatever the method, path, headers or body, the admin API never
 * answers 5xx nor a body other than a Matrix error (or a 200 JSON object, or nothing), and a
 * request it refuses queues nothing. 10,000 runs when `CI=true`, 1,000 otherwise; `FC_SEED`
 * replays a failure.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createToyHomeserver } from '../../examples/toy-homeserver/toy-homeserver.js'
import { prefix } from './contract.js'
import { fromResponse, type TestRequest, toRequest } from './transports.js'

/** Methods a Web Request accepts: HTTP tokens other than CONNECT, TRACE and TRACK. */
const method = fc.oneof(
  fc.constantFrom(
    'GET',
    'HEAD',
    'POST',
    'PUT',
    'DELETE',
    'OPTIONS',
    'PATCH',
    'get',
    'post',
    'QUERY',
  ),
  fc
    .stringMatching(/^[A-Za-z!#$%&'*+.^_`|~-]{1,12}$/)
    .filter((name) => !['CONNECT', 'TRACE', 'TRACK'].includes(name.toUpperCase())),
)

const segment = fc.oneof(
  fc.constantFrom('status', 'enabled', 'start_job', '', '..', '%2e', 'status%00', 'enabled?x=1'),
  fc.webSegment(),
)
const path = fc.oneof(
  { arbitrary: fc.constantFrom(`${prefix}/start_job`, `${prefix}/enabled`), weight: 3 },
  fc
    .tuple(segment, fc.option(segment))
    .map(([a, b]) => `${prefix}/${a}${b === null ? '' : `/${b}`}`),
  fc.webPath().map((rest) => `/${rest.replace(/^\/+/, '')}`),
)
const query = fc.constantFrom(
  '',
  '?access_token=admin-token',
  '?access_token=',
  '?access_token=user-token&access_token=x',
)

/** Header values a Web Headers accepts: no NUL, CR or LF, no surrounding whitespace. */
const headerValue = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code)) })
  .map((value) => value.trim())
/** Other headers: common ones with odd values, and arbitrary names. */
const otherHeaders = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'content-type',
      'accept',
      'cookie',
      'x-forwarded-for',
      'content-encoding',
      'expect',
      'origin',
      'access-control-request-method',
    ),
    fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
  ),
  fc.oneof(
    headerValue,
    fc.constantFrom('application/json', 'text/plain; charset=latin1', 'gzip', '100-continue'),
  ),
  { maxKeys: 4 },
)
const authorization = fc.option(
  fc.oneof(
    { arbitrary: fc.constant('Bearer admin-token'), weight: 4 },
    fc.constantFrom('Bearer user-token', 'Bearer ', 'Basic x', 'Bearer admin-token x'),
    headerValue,
    headerValue.map((token) => `Bearer ${token}`),
  ),
)

/** JSON nested `depth` times in arrays or objects. */
const deeplyNested = fc
  .integer({ min: 1, max: 100_000 })
  .chain((depth) =>
    fc.constantFrom(
      `${'['.repeat(depth)}${']'.repeat(depth)}`,
      `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
      `{"job_name":"rebuild_search_index","since_ts":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    ),
  )
const jsonBodies = fc.oneof(
  fc.json(),
  deeplyNested,
  fc.constantFrom(
    '{"job_name":"rebuild_search_index","since_ts":1e400}',
    '{"job_name":"rebuild_search_index","since_ts":123456789012345678901234567890}',
    '{"job_name":"rebuild_search_index","since_ts":-0}',
    '{"enabled":1e999}',
    '{"job_name":"\\ud800"}',
    '{"job_name":"compact_state"}',
    '{"job_name":"rebuild_search_index","job_name":"compact_state"}',
    '{"job_name":"compact_state","job_name":"rebuild_search_index","since_ts":1}',
    '{"enabled":true,"enabled":"no"}',
    '{"enabled":false,"enabled":null}',
    '{"job_name":"rebuild_search_index","since_ts":1e-400}',
    '{"job_name":"rebuild_search_index","since_ts":9007199254740993}',
    '{"job_name":"rebuild_search_index","since_ts":NaN}',
    '{"enabled":Infinity}',
    '\uFEFF{"enabled":true}',
    '{"enabled":true}\u0000',
    '{"enabled":true} {"enabled":false}',
    '{"__proto__":{"job_name":"compact_state"}}',
    '{"constructor":{"prototype":{"enabled":false}}}',
    '{"job_name":["rebuild_search_index"]}',
    '{"job_name":{"toString":"compact_state"}}',
  ),
  fc
    .jsonValue()
    .map((value) => JSON.stringify({ job_name: 'rebuild_search_index', since_ts: value })),
  fc.jsonValue().map((value) => JSON.stringify({ enabled: value })),
  fc
    .bigInt({ min: -(10n ** 40n), max: 10n ** 40n })
    .map((big) => `{"job_name":"rebuild_search_index","since_ts":${big}}`),
  fc
    .integer({ min: 65_400, max: 66_000 })
    .map((size) => `{"job_name":"rebuild_search_index","pad":"${'x'.repeat(size)}"}`),
  fc
    .record(
      {
        job_name: fc.oneof(
          fc.constantFrom('rebuild_search_index', 'compact_state'),
          fc.jsonValue(),
        ),
        since_ts: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
  fc
    .record({ enabled: fc.jsonValue() }, { requiredKeys: [] })
    .map((value) => JSON.stringify(value)),
)
const body = fc.option(
  fc.oneof(
    jsonBodies.map((text) => new TextEncoder().encode(text)),
    fc.uint8Array({ maxLength: 300 }),
    fc.constant(new Uint8Array([0xc0, 0x80])),
    fc.constant(new Uint8Array([0xed, 0xa0, 0x80])),
  ),
)

const request = fc.record({
  method,
  otherHeaders,
  path: fc.tuple(path, query).map(([p, q]) => `${p}${q}`),
  authorization,
  contentLength: fc.option(fc.constantFrom('0', '5', '65537', '99999999999999999999', 'abc', '-1')),
  body,
  chunked: fc.boolean(),
})

type Arbitrary = typeof request extends fc.Arbitrary<infer T> ? T : never

function toTestRequest(generated: Arbitrary): TestRequest {
  const headers: Record<string, string> = { ...generated.otherHeaders }
  if (generated.authorization !== null) headers.authorization = generated.authorization
  const hasBody =
    generated.body !== null && !['GET', 'HEAD'].includes(generated.method.toUpperCase())
  return {
    method: generated.method,
    path: generated.path,
    headers,
    body: hasBody ? (generated.body as Uint8Array) : undefined,
    chunked: generated.chunked,
  }
}

describe('the admin API under arbitrary requests', () => {
  it('never answers 5xx or a non-Matrix error, and queues only on a 200 start_job', async () => {
    const answered = new Set<number>()
    await fc.assert(
      fc.asyncProperty(request, async (generated) => {
        const { api, master, state } = createToyHomeserver()
        const built = toRequest(toTestRequest(generated))
        if (generated.contentLength !== null)
          built.headers.set('content-length', generated.contentLength)

        const response = await fromResponse(await api.fetch(built))

        answered.add(response.status)
        expect(response.status).toBeLessThan(500)
        if (response.text !== '') {
          const parsed = JSON.parse(response.text)
          expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true)
          if (response.status !== 200) {
            expect(typeof parsed.errcode).toBe('string')
            expect(typeof parsed.error).toBe('string')
            expect(parsed.errcode).toMatch(/^M_[A-Z_]+$/)
          }
        }
        const queued = [
          ...(await master.status()).pending_updates,
          ...(await state.status()).pending_updates,
        ]
        // A Web Request upper-cases the standard methods (`post` is POST), so ask it, not the input.
        const started =
          response.status === 200 &&
          built.method === 'POST' &&
          new URL(built.url).pathname === `${prefix}/start_job`
        expect(queued).toEqual(started ? ['rebuild_search_index'] : [])
      }),
      { numRuns: process.env.CI === 'true' ? 10_000 : 1_000, seed: seedFromEnvironment() },
    )
    // The runs reached past authorization to the routes, not only the early refusals.
    expect([...answered].sort()).toEqual(
      expect.arrayContaining([200, 204, 400, 401, 403, 404, 405, 413]),
    )
  })
})

/** `FC_SEED` from the environment, to replay a failure fast-check reported; else a fresh one. */
function seedFromEnvironment(): number | undefined {
  const seed = process.env.FC_SEED
  return seed === undefined ? undefined : Number(seed)
}
