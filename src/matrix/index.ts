export { decodeBase64, encodeBase64 } from './base64.js'
export {
  compareCodePoints,
  encodeCanonicalJson,
  encodeCanonicalJsonBytes,
  type JsonObject,
  type JsonValue,
} from './canonical-json.js'
export { backendName as cryptoBackendName } from './crypto/backend.js'
export {
  type SigningBackend,
  type SigningBackendName,
  selectSigningBackend,
} from './crypto/selection.js'
export * from './errors.js'
export {
  computeContentHash,
  computeEventId,
  computeEventReferenceHash,
} from './event-hashes.js'
export {
  eventNeedsResigning,
  type ResignEventOptions,
  resignEvent,
  senderServerName,
  signEvent,
  verifyEventSignature,
} from './event-signing.js'
export { readSigningKeys, writeSigningKeys } from './key-file.js'
export {
  decodeSigningKeyBase64,
  decodeVerifyKeyBase64,
  Ed25519SigningKey,
  encodeVerifyKeyBase64,
  generateSigningKey,
  getVerifyKey,
  isKeyId,
  type KeyAlgorithm,
  parseVerifyKey,
  type SigningKey,
  type VerifyKey,
} from './keys.js'
export { redactEvent } from './redaction.js'
export {
  type EventIdFormat,
  getRoomVersionRules,
  isKnownRoomVersion,
  KNOWN_ROOM_VERSIONS,
  type RoomVersionRules,
} from './room-versions.js'
export { type Signatures, signJson, verifySignedJson } from './signing.js'
