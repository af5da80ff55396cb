"""The Python half of resign.bench.mjs: re-signs events as Synapse's stack does.

Reads {"events", "server", "rounds"} as JSON on stdin and prints {"rates": [...]} (events per
second, one figure per round). Per event: shallow copies, our signatures dropped, the event pruned
to its redacted form, then signedjson canonicalizes and signs it with PyNaCl.
"""

import json
import sys
import time

import signedjson.key as keys
import signedjson.sign as sign

KEPT = {
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
    "signatures", "depth", "prev_events", "auth_events", "origin_server_ts",
}


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
    signatures.update(signed["signatures"])
    return copy


def main():
    request = json.load(sys.stdin)
    events, server = request["events"], request["server"]
    key = keys.generate_signing_key("new")

    for event in events[:200]:
        resign(event, server, key)

    rates = []
    for _ in range(request["rounds"]):
        start = time.perf_counter()
        for event in events:
            resign(event, server, key)
        rates.append(len(events) / (time.perf_counter() - start))
    print(json.dumps({"rates": rates}))


if __name__ == "__main__":
    main()
