/**
 * The signing key of Synapse's and python-signedjson's own tests, and the signatures they expect from
 * it (checked against Debian's python3-signedjson). Ed25519 is deterministic, so every correct
 * implementation produces exactly these.
 */
export const SEED_BASE64 = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'

/** The same seed with its unused trailing bits cleared, as an encoder writes it back. */
export const SEED_BASE64_CANONICAL = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0'

export const VERIFY_KEY_BASE64 = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI'

export const KEY_VERSION = '1'

/** `{}` signed under the name `domain` with key `ed25519:1`. */
export const EMPTY_OBJECT_SIGNATURE =
  'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ'

/** `{"one":1,"two":"Two"}` signed under the name `domain` with key `ed25519:1`. */
export const ONE_TWO_SIGNATURE =
  'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw'
