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
