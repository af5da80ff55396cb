"""The Python peer of postgres-resign.bench.mjs: the event_resign loop as Synapse's stack builds it.

Debian's python3-psycopg2, python3-signedjson, python3-canonicaljson and python3-nacl, run by
/usr/bin/python3:

    postgres-resign-python.py DSN SERVER NEW_SEED [--old-key "ed25519:<version> <base64>"]
                              [--page N]

DSN is a libpq connection string or URL to a database with the reference schema (docs/schema.md),
SERVER our server name, NEW_SEED the new signing key's seed (unpadded base64; key id ed25519:new).
It re-signs the events the Node job re-signs: ours (the sender's server name is SERVER), not
rejected, parsing to an event of a known room version, not yet signed by the new key id; with
--old-key only those whose signature by that key verifies over the redacted event.

Each batch is one transaction at REPEATABLE READ (Synapse's default isolation on PostgreSQL): select
a page of our events after the last stream ordering, joined with event_json and rooms; per event,
json.loads, a shallow copy, the copy pruned by the redaction rules of its room version, the old
signature checked by verify_signed_json (with --old-key), signedjson's sign_json over the pruned
copy, our signatures replaced by the new one; the rows written with psycopg2.extras.execute_batch
(page_size 100), as Synapse's simple_update_many_txn writes them; the progress row of the
background_updates table updated; commit. The loop ends at the first empty page, whose transaction
deletes the progress row. One JSON line comes out: {"seconds", "resigned", "maxRssMb", ...}.
"""

import argparse
import json
import resource
import time

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import signedjson.key as keys
import signedjson.sign as sign

UPDATE_NAME = "event_resign_python"
START = -(2**31)
NEW_VERSION = "new"

# The top-level keys a redaction keeps in every room version, and those only before version 11.
TOP_KEYS = frozenset({
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
    "signatures", "depth", "prev_events", "auth_events", "origin_server_ts",
})
TOP_KEYS_BEFORE_V11 = TOP_KEYS | {"prev_state", "membership", "origin"}
POWER_LEVELS_KEYS = (
    "ban", "events", "events_default", "kick", "redact", "state_default", "users",
    "users_default",
)


def room_version_rules(version):
    """The redaction rules of room version "1" to "12", as a dict of flags."""
    number = int(version)
    return {
        "event_id_kept": number <= 2,
        "aliases": number <= 5,
        "join_rule_allow": number >= 8,
        "authorising_user": number >= 9,
        "updated": number >= 11,
        "create_drops_room_id": number >= 12,
        "top_keys": TOP_KEYS if number >= 11 else TOP_KEYS_BEFORE_V11,
    }


RULES = {str(number): room_version_rules(number) for number in range(1, 13)}


def pick(content, names):
    return {name: content[name] for name in names if name in content}


def pruned_content(event_type, content, rules):
    """The content keys the redaction of this room version keeps for this event type."""
    if event_type == "m.room.message":
        return {}
    if event_type == "m.room.member":
        names = ("membership", "join_authorised_via_users_server") \
            if rules["authorising_user"] else ("membership",)
        kept = pick(content, names)
        invite = content.get("third_party_invite")
        if rules["updated"] and isinstance(invite, dict):
            kept["third_party_invite"] = pick(invite, ("signed",))
        return kept
    if event_type == "m.room.create":
        return dict(content) if rules["updated"] else pick(content, ("creator",))
    if event_type == "m.room.join_rules":
        return pick(content, ("join_rule", "allow") if rules["join_rule_allow"] else ("join_rule",))
    if event_type == "m.room.power_levels":
        kept = pick(content, POWER_LEVELS_KEYS)
        if rules["updated"]:
            kept.update(pick(content, ("invite",)))
        return kept
    if event_type == "m.room.aliases":
        return pick(content, ("aliases",)) if rules["aliases"] else {}
    if event_type == "m.room.history_visibility":
        return pick(content, ("history_visibility",))
    if event_type == "m.room.redaction":
        return pick(content, ("redacts",)) if rules["updated"] else {}
    return {}


def prune(event, rules):
    """The signed form: the redacted event; from version 3 without an event_id (it is derived)."""
    top = rules["top_keys"]
    pruned = {key: value for key, value in event.items() if key in top}
    pruned["content"] = pruned_content(event["type"], event["content"], rules)
    if not rules["event_id_kept"]:
        pruned.pop("event_id", None)
    if rules["create_drops_room_id"] and event["type"] == "m.room.create":
        pruned.pop("room_id", None)
    return pruned


def is_event(event, server):
    """Well-formed enough to re-sign, and ours by the sender's server name."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return False
    if not isinstance(event.get("content"), dict):
        return False
    sender = event.get("sender")
    if not isinstance(sender, str) or not sender.startswith("@") or ":" not in sender:
        return False
    if sender.split(":", 1)[1] != server:
        return False
    signatures = event.get("signatures", {})
    return isinstance(signatures, dict) and all(isinstance(v, dict) for v in signatures.values())


class Resigner:
    def __init__(self, server, signing_key, old_key):
        self.server = server
        self.signing_key = signing_key
        self.key_id = "%s:%s" % (signing_key.alg, signing_key.version)
        self.old_key = old_key
        self.skipped = {}

    def skip(self, reason):
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def resign(self, room_version, text, rejected):
        """The new event, or None when it is left alone (the reason is counted)."""
        if rejected:
            return self.skip("rejected")
        try:
            event = json.loads(text)
        except ValueError:
            return self.skip("malformed")
        rules = RULES.get(room_version)
        if rules is None:
            return self.skip("unknown-room-version")
        if not is_event(event, self.server):
            return self.skip("malformed")
        signatures = event.get("signatures", {})
        if self.key_id in signatures.get(self.server, {}):
            return self.skip("already-current")

        pruned = prune(event, rules)
        if self.old_key is not None:
            try:
                sign.verify_signed_json(pruned, self.server, self.old_key)
            except sign.SignatureVerifyException:
                return self.skip("old-key-mismatch")
        pruned.pop("signatures", None)
        sign.sign_json(pruned, self.server, self.signing_key)

        resigned = dict(event)
        new_signatures = dict(signatures)
        new_signatures[self.server] = pruned["signatures"][self.server]
        resigned["signatures"] = new_signatures
        return resigned


# Synapse writes event JSON compact, NaN refused.
ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))

PAGE_SQL = """
    SELECT e.event_id, e.stream_ordering, r.room_version, j.json,
        e.rejection_reason IS NOT NULL
    FROM events AS e
    JOIN event_json AS j ON j.event_id = e.event_id
    LEFT JOIN rooms AS r ON r.room_id = e.room_id
    WHERE e.stream_ordering > %s AND e.sender LIKE %s COLLATE "C" ESCAPE '\\'
    ORDER BY e.stream_ordering LIMIT %s
"""
UPDATE_SQL = "UPDATE event_json SET json = %s WHERE event_id = %s"
PROGRESS_SQL = "UPDATE background_updates SET progress_json = %s WHERE update_name = %s"


def like_pattern(server):
    escaped = server.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%:" + escaped


def run_batch(cursor, resigner, last, pattern, page):
    """One batch's reads and writes; the new position, or None when the page was empty."""
    cursor.execute(PAGE_SQL, (last, pattern, page))
    rows = cursor.fetchall()
    if not rows:
        cursor.execute("DELETE FROM background_updates WHERE update_name = %s", (UPDATE_NAME,))
        return None, 0

    updates = []
    for event_id, _ordering, room_version, text, rejected in rows:
        resigned = resigner.resign(room_version, text, rejected)
        if resigned is not None:
            updates.append((ENCODER.encode(resigned), event_id))
    psycopg2.extras.execute_batch(cursor, UPDATE_SQL, updates, page_size=100)

    position = rows[-1][1]
    progress = ENCODER.encode({"last_stream_pos": position})
    cursor.execute(PROGRESS_SQL, (progress, UPDATE_NAME))
    return position, len(updates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dsn")
    parser.add_argument("server")
    parser.add_argument("new_seed")
    parser.add_argument("--old-key", help='"ed25519:<version> <unpadded base64>"')
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()

    signing_key = keys.decode_signing_key_base64("ed25519", NEW_VERSION, args.new_seed)
    old_key = None
    if args.old_key:
        key_id, key_base64 = args.old_key.split(" ", 1)
        algorithm, version = key_id.split(":", 1)
        old_key = keys.decode_verify_key_base64(algorithm, version, key_base64)
    resigner = Resigner(args.server, signing_key, old_key)

    connection = psycopg2.connect(args.dsn)
    connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ)
    cursor = connection.cursor()
    cursor.execute(
        "INSERT INTO background_updates (update_name, progress_json) VALUES (%s, %s)",
        (UPDATE_NAME, "{}"),
    )
    connection.commit()

    pattern = like_pattern(args.server)
    last, resigned, batches = START, 0, 0
    started = time.perf_counter()
    while last is not None:
        last, count = run_batch(cursor, resigner, last, pattern, args.page)
        connection.commit()
        resigned += count
        batches += 1
    seconds = time.perf_counter() - started
    connection.close()

    print(json.dumps({
        "seconds": seconds,
        "resigned": resigned,
        "maxRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "batches": batches,
        "page": args.page,
        "skipped": resigner.skipped,
    }))


if __name__ == "__main__":
    main()
