"""Levels per expectation: what the text requires, and what only Node does.

A scenario's `level` is the default level of its steps; a step may carry its
own (`level = "node"`), so one scenario holds the text's requirement and
Node's detail and yields both judgements (the MUST verdict from its `must`
steps, the Node verdict from all of them).  Two kinds of step are read at two
levels by themselves, because one observation holds both:

- `events`: at `must`, only the events the text speaks of are compared
  ('listening', 'error', the calls of listen() callbacks and 'listening'
  listeners); the exact list, 'close' and close() callbacks included, is
  compared at `node` (so is whether a rejected call's callback is called,
  and whether a listen() callback runs again at a later 'listening');
- `error`: at `must`, only `code` (the text names `e.code` alone); the other
  fields (errno, syscall, address, port, message) at `node`;
- `listen` with `throws`: the code at the step's level, the thrown error's
  `message` and `class` at `node`.

Every other part of a `must` step must be one the sentence it cites speaks
of (SPEAKS_OF below, by clause); the table's lint refuses any other unless
the step carries a `justify` text, which SPEC.md prints.  A step cites the
clause(s) in its own `clause` key, else the scenario's `clauses`.

A scenario may also carry `text_vs_node`: where the text requires something
Node does not do, what the text says and what Node does (the scenario checks
the side its level says); a run against Node lists them as known
divergences, and SPEC.md has a section for them.
"""
from __future__ import annotations

from .events import parse_event

MUST, NODE = "must", "node"
LEVELS = (MUST, NODE)

# Keys any step may carry besides its kind's own.
STEP_KEYS = {"level": str, "justify": str, "clause": (str, list)}

# What every sentence allows a step to assert: a call that does not throw,
# the text's events (events are projected, see above), an error's code, the
# 'listening' or 'error' event waited for, a connection that is accepted (and
# its 'connection': every form's first sentence is "listening for connections"),
# and where the kernel shows the server listening (`bound`: the port, host or
# path the call named; what the text's signatures are about).
ANYWHERE = {"listen", "error.code", "wait:listening", "wait:error", "wait:connection",
            "connect:ok", "bound"}

# What each sentence speaks of, besides ANYWHERE (the features are those
# features() names).
SPEAKS_OF = {
    "L-START": set(),
    "L-KIND": {"file"},                    # an IPC server listens on a path
    "L-SIG-HANDLE": {"connect.port"},     # "on its own address and port"
    "L-SIG-OPTIONS": set(),
    "L-SIG-PATH": {"file"},
    "L-SIG-PORT": set(),
    "L-SIG-OVERLOADS": set(),
    "L-ASYNC": set(),
    "L-LISTENING-EVENT": set(),
    "L-CALLBACK": set(),
    "L-BACKLOG-ALL": {"backlog"},
    "L-BACKLOG-OS": {"backlog"},
    "L-BACKLOG-DEFAULT": {"backlog"},
    "L-REUSEADDR": {"sockopt:SO_REUSEADDR", "timewait"},
    "L-RELISTEN": {"throws:ERR_SERVER_ALREADY_LISTEN"},
    "L-ALREADY": {"throws:ERR_SERVER_ALREADY_LISTEN"},
    "L-EADDRINUSE": {"file", "connect:ok"},
    "L-RETRY": set(),
}

# Words for a feature the lint refuses, in its message and in SPEC.md.
FEATURE_WORDS = {
    "address": "server.address() (its shape and values are Node's)",
    "listening": "server.listening",
    "file.mode": "a socket file's mode",
    "file.gone": "a socket file removed (close() unlinking it)",
    "connect.via": "a connection through a chosen address (the default host)",
    "connect.user": "a connection as another user (the socket file's mode)",
    "connect.port": "a connection to a chosen port (not the server's own)",
    "listen.returns": "listen()'s return value",
    "close.returns": "close()'s return value",
}


def step_level(sc: dict, step: dict) -> str:
    return step.get("level", sc.get("level", MUST))


def cited(sc: dict, step: dict) -> list[str]:
    c = step.get("clause")
    if c is None:
        return list(sc.get("clauses", []))
    return [c] if isinstance(c, str) else list(c)


def features(step: dict) -> list[str]:
    """The parts of a step that assert something, as feature names (the
    events and the error's fields other than code are not among them: they
    are judged at `node` by themselves)."""
    kind = next(iter(step))
    v = step[kind]
    if kind == "listen":
        out = ["listen"]
        if "throws" in step:
            out.append(f"throws:{step['throws']}")
        # a throw's message and class are judged at `node` by themselves
        out += ["listen.returns"] if "returns" in step else []
        return out
    if kind == "close":
        return ["close.returns"] if "returns" in step else []
    if kind == "error":
        return ["error.code"] if isinstance(v, dict) and "code" in v else []
    if kind == "wait":
        return [f"wait:{v}"]
    if kind == "sockopt":
        return [f"sockopt:{k}" for k in v] if isinstance(v, dict) else ["sockopt"]
    if kind == "connect":
        return [f"connect:{v}"] + [f"connect.{k}" for k in ("via", "user", "port") if k in step
                                   and not (k == "via" and step[k] == "kernel")]
    if kind == "file":
        out = ["file"]
        if "mode" in step:
            out.append("file.mode")
        if step.get("exists") is False:
            out.append("file.gone")
        return out
    if kind in ("address", "listening", "backlog", "timewait", "bound", "dispose"):
        return [kind] if kind != "dispose" else []
    return []


def beyond_text(sc: dict, step: dict) -> list[str]:
    """The features of a `must` step that none of its cited sentences
    speaks of (empty for a `node` step)."""
    if step_level(sc, step) != MUST:
        return []
    allowed = set(ANYWHERE)
    for c in cited(sc, step):
        allowed |= SPEAKS_OF.get(c, set())
    return [f for f in features(step) if f not in allowed]


def feature_words(f: str) -> str:
    if f in FEATURE_WORDS:
        return FEATURE_WORDS[f]
    if f.startswith("throws:"):
        return f"a throw of {f[7:]}"
    if f.startswith("sockopt:"):
        return f"the socket option {f[8:]}"
    if f.startswith("wait:"):
        return f"the '{f[5:]}' event"
    if f.startswith("connect:"):
        return f"a connection {f[8:]}"
    return f


# -- events at two levels -----------------------------------------------------

def node_only_labels(sc: dict) -> set[str]:
    """Labels whose calls the text does not speak of: close() and dispose
    callbacks, listeners of events other than 'listening' and 'error', and
    the callback of a listen() that throws."""
    out = set()
    for st in sc.get("steps", []):
        if not isinstance(st, dict) or not st:
            continue
        kind = next(iter(st))
        if kind == "close" and isinstance(st["close"], str):
            out.add(st["close"])
        elif kind == "dispose":
            out.add(st["dispose"])
        elif kind == "on" and st["on"] not in ("listening", "error"):
            out.add(st.get("label", st["on"]))
        elif kind == "listen" and "throws" in st and callback_label(st):
            # A rejected call's callback: "the last parameter callback will
            # be added" does not say whether a call that throws adds it (Node
            # keeps it after a validation throw, drops it after
            # ERR_SERVER_ALREADY_LISTEN).
            out.add(callback_label(st))
    return out


def text_event(text: str, node_labels: set[str]) -> bool:
    """Whether the text speaks of an event (in its written form)."""
    _, _, words = parse_event(text)
    if not words:
        return False
    if words[0] == "emit":
        return len(words) > 1 and words[1] in ("listening", "error")
    if words[0] == "call":
        return len(words) > 1 and words[1] not in node_labels
    return False


def listen_callbacks(sc: dict) -> set[str]:
    """The labels given to listen() as its callback."""
    return {callback_label(st) for st in sc.get("steps", [])
            if isinstance(st, dict) and st and next(iter(st)) == "listen"
            and callback_label(st)}


def callback_label(step: dict):
    """The label of a listen step's callback (`@cb`: cb, `@fn:L`: L), or None."""
    args = step["listen"]
    last = args[-1] if isinstance(args, list) and args else None
    if last == "@cb":
        return "cb"
    if isinstance(last, str) and last.startswith("@fn:"):
        return last[4:]
    return None


def text_events(events: list[str], sc: dict, earlier: list[str] = ()) -> list[str]:
    """The events of a window the text speaks of.  `earlier`: the events
    before the window; a listen() callback called again (at a later
    'listening') is left out: "added as a listener" does not say whether it
    is added once (Node's once()) or for good."""
    labels = node_only_labels(sc)
    callbacks = listen_callbacks(sc)
    called = {_called(e) for e in earlier} & callbacks
    out = []
    for e in events:
        if not text_event(e, labels):
            continue
        label = _called(e)
        if label in callbacks:
            if label in called:
                continue
            called.add(label)
        out.append(e)
    return out


def _called(text: str):
    _, _, words = parse_event(text)
    return words[1] if len(words) > 1 and words[0] == "call" else None


def known_divergences(suite) -> list[str]:
    """For a JavaScript runtime: the scenarios of a run (not skipped) that
    carry a `text_vs_node` note, i.e. where Node.js does not do what the text
    requires."""
    impl, table = getattr(suite, "impl", None), getattr(suite, "table", None)
    if impl is None or impl.kind != "js" or not table:
        return []
    return [sc["id"] for sc in table if sc.get("text_vs_node")
            and sc["id"] in suite.results and suite.results[sc["id"]].verdict != "SKIP"]
