"""Events as text: the one written form of an event, for the table's
`events` steps, the executor's comparison and the document's sentences.

    "emit listening"            'listening' emitted on server A
    "B: call L1"                the listener labelled L1 called on server B
    "sync emit error EADDRINUSE"  emitted before the call that caused it returned
"""
from __future__ import annotations


def parse_event(text: str) -> tuple[str, bool, list[str]]:
    """An expected event as (server, sync, words): 'B: sync emit listening'
    and 'sync B: emit listening' are both ('B', True, ['emit', 'listening'])."""
    words = text.split()
    srv, sync = "A", False
    while words and (words[0] == "sync" or words[0].endswith(":")):
        if words[0] == "sync":
            sync = True
        else:
            srv = words[0][:-1]
        words = words[1:]
    return srv, sync, words


def canon_event(text: str) -> str:
    """The one spelling of an expected event, as event_text() writes it."""
    srv, sync, words = parse_event(text)
    return (f"{srv}: " if srv != "A" else "") + ("sync " if sync else "") + " ".join(words)


def event_text(ev: dict) -> str:
    """An event the runner reported (PROTOCOL.md), in the written form."""
    srv = ev.get("srv", "A")
    words = [ev["ev"], ev.get("label") if ev["ev"] == "call" else ev.get("name")]
    err = ev.get("error")
    if isinstance(err, dict) and err.get("code"):
        words.append(err["code"])
    return ((f"{srv}: " if srv != "A" else "") + ("sync " if ev.get("sync") else "")
            + " ".join(w for w in words if w))


def error_detail(ev: dict) -> str:
    """An event that carries an error, with what the implementation said
    beside the code (for FAIL messages; never compared):
    'emit error UNKNOWN (errno -4094, syscall listen): "listen UNKNOWN: ..."'."""
    import json
    err = ev.get("error") if isinstance(ev.get("error"), dict) else {}
    fields = []
    if isinstance(err.get("errno"), int) and not isinstance(err.get("errno"), bool):
        fields.append(f"errno {err['errno']}")
    for k in ("syscall", "address"):
        if isinstance(err.get(k), str) and err[k]:
            fields.append(f"{k} {err[k][:200]}")
    if isinstance(err.get("port"), int) and not isinstance(err["port"], bool) \
            and err["port"] >= 0:
        fields.append(f"port {err['port']}")
    text = event_text(ev) + ("" if err.get("code") else " (no code)")
    if fields:
        text += " (" + ", ".join(fields) + ")"
    msg = err.get("message")
    if isinstance(msg, str) and msg:
        text += ": " + json.dumps(msg if len(msg) <= 300 else msg[:300] + "...",
                                  ensure_ascii=False)
    return text
