"""The Python peer of resign.bench.mjs: Synapse's stack doing the same work on the same events.

Debian's python3-signedjson, python3-canonicaljson and python3-nacl, run by /usr/bin/python3. The
first line on stdin is JSON: {"events", "server", "verify_key"} (the old verify key, unpadded
base64). Every later line names one round to run, and the answer is one line of JSON with the
events per second of that round, so the Node side can alternate its own rounds with these:

- resign: per event, as lean as Synapse's compute_event_signature: a shallow copy, our
  signatures dropped, the copy pruned to the keys a redaction keeps (a set look-up; content
  emptied, as for m.room.message), canonical JSON and an Ed25519 signature by signedjson, the
  signature set on the copy.
- verify: per event, as Synapse's keyring checks a PDU: pruned, then verify_signed_json with the
  old key.
- canonical: encode_canonical_json of each whole event.
"""

import json
import sys
import time

import signedjson.key as keys
import signedjson.sign as sign
from canonicaljson import encode_canonical_json
from unpaddedbase64 import decode_base64

KEPT = frozenset({
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
    "signatures", "depth", "prev_events", "auth_events", "origin_server_ts",
})


def prune(event):
    pruned = {key: value for key, value in event.items() if key in KEPT}
    pruned["content"] = {}
    return pruned


def resign(event, server, key):
    copy = dict(event)
    signatures = dict(copy["signatures"])
    signatures.pop(server, None)
    copy["signatures"] = signatures
    redacted = prune(copy)
    redacted.pop("unsigned", None)
    signed = sign.sign_json(redacted, server, key)
    signatures[server] = signed["signatures"][server]
    return copy


def verify(event, server, verify_key):
    sign.verify_signed_json(prune(event), server, verify_key)


def rate(events, work):
    start = time.perf_counter()
    for event in events:
        work(event)
    return len(events) / (time.perf_counter() - start)


def main():
    setup = json.loads(sys.stdin.readline())
    events, server = setup["events"], setup["server"]
    signing_key = keys.generate_signing_key("new")
    verify_key = keys.decode_verify_key_bytes("ed25519:old", decode_base64(setup["verify_key"]))
    work = {
        "resign": lambda event: resign(event, server, signing_key),
        "verify": lambda event: verify(event, server, verify_key),
        "canonical": encode_canonical_json,
    }
    for task in work.values():
        rate(events[:200], task)

    for line in sys.stdin:
        print(json.dumps({"rate": rate(events, work[line.strip()])}), flush=True)


if __name__ == "__main__":
    main()
