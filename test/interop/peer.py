"""The Python side of the interop suites.

Reads one JSON request per line on stdin and writes one JSON answer per line on stdout, in order,
using the libraries Synapse signs with: canonicaljson, signedjson and PyNaCl. Binary values travel
as unpadded base64. A request that fails answers {"error": "..."} and the peer carries on.
"""

import io
import json
import sys

import canonicaljson
import signedjson.key as keys
import signedjson.sign as sign
from unpaddedbase64 import decode_base64, encode_base64


def signing_key(request):
    return keys.decode_signing_key_base64("ed25519", request["version"], request["seed"])


def describe_signing_key(key):
    return {
        "algorithm": key.alg,
        "version": key.version,
        "seed": keys.encode_signing_key_base64(key),
        "verify_key": keys.encode_verify_key_base64(keys.get_verify_key(key)),
    }


def op_canonical(request):
    return {"bytes": encode_base64(canonicaljson.encode_canonical_json(request["value"]))}


def op_canonical_many(request):
    return {
        "bytes": [
            encode_base64(canonicaljson.encode_canonical_json(value))
            for value in request["values"]
        ]
    }


def op_sign(request):
    return {"signed": sign.sign_json(request["value"], request["name"], signing_key(request))}


def op_verify(request):
    verify_key = keys.decode_verify_key_base64("ed25519", request["version"], request["key"])
    try:
        sign.verify_signed_json(request["value"], request["name"], verify_key)
        return {"valid": True}
    except sign.SignatureVerifyException as error:
        return {"valid": False, "reason": str(error)}


def op_describe_key(request):
    return describe_signing_key(signing_key(request))


def op_generate_keys(request):
    return {"keys": [describe_signing_key(keys.generate_signing_key(v)) for v in request["versions"]]}


def op_decode_verify_key(request):
    key = keys.decode_verify_key_bytes(request["key_id"], decode_base64(request["key"]))
    return {
        "algorithm": key.alg,
        "version": key.version,
        "key": keys.encode_verify_key_base64(key),
    }


def op_read_key_file(request):
    lines = request["text"].splitlines(True)
    return {"keys": [describe_signing_key(key) for key in keys.read_signing_keys(lines)]}


def op_write_key_file(request):
    stream = io.StringIO()
    keys.write_signing_keys(stream, [signing_key(entry) for entry in request["keys"]])
    return {"text": stream.getvalue()}


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def answer(line):
    try:
        request = json.loads(line)
        return OPS[request["op"]](request)
    except Exception as error:  # noqa: BLE001 - every failure becomes an answer
        return {"error": "%s: %s" % (type(error).__name__, error)}


def main():
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8")
    for line in stdin:
        if line.strip():
            text = json.dumps(answer(line), ensure_ascii=True)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
