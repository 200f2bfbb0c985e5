// adapter.mjs — the listen-conformance JavaScript runner.
//
// Speaks harness/PROTOCOL.md on stdin/stdout for the `node:net` of whatever
// runtime runs it:
//
//     node harness/node/adapter.mjs        (or any runtime: deno run -A ..., bun ...)
//
// One long-lived process runs many scenarios one after another (`begin` ...
// `end`); each scenario gets fresh servers, labels, mksock handles and its
// own AbortController, and `end` closes everything and checks, with
// process.getActiveResourcesInfo(), that nothing is left behind.
//
// Duties (PROTOCOL.md): one JSON object per line; events, then exactly one
// response per command, echoing its `seq`; nothing else on stdout (every
// line is written with a synchronous write to fd 1, so the order is exact;
// console.log is sent to stderr).  Plain ESM, no dependencies, no runtime
// flags; on a runtime without Node's socket wraps only `mksock` is
// unavailable: `hello` lists it in `lacks` and `mksock` answers an error.

import childProcess from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';

const MAX_LINE = 64 * 1024;
const REPORTED = new Set(['listening', 'error', 'close', 'connection']);
const DEFAULT_RUN_MS = 3000;
const END_DEADLINE_MS = 300; // closes and literal lookups settle in a few loop turns
const EXIT_CRASH = 70;

// ---------------------------------------------------------------------------
// Output: synchronous, whole lines, fd 1 only.

function writeLine(obj) {
  const buf = Buffer.from(JSON.stringify(obj) + '\n', 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      // fd 1 may be non-blocking if something touched process.stdout.
      if (e && e.code === 'EAGAIN') continue;
      throw e;
    }
  }
}

// Nothing but protocol lines on stdout: console output goes to stderr.
for (const k of ['log', 'info', 'debug']) {
  console[k] = (...a) => console.error(...a);
}

// ---------------------------------------------------------------------------
// Error fields, as PROTOCOL.md reports them (absent: null, port -1).

function isError(v) {
  return v instanceof Error ||
    (v !== null && typeof v === 'object' && typeof v.message === 'string' &&
     'code' in v);
}

function str(v) {
  return v === undefined || v === null ? null : String(v);
}

// The standard class an error is an instance of, as a user's
// `assert.throws(f, TypeError)` sees it: the nearest constructor in its
// prototype chain that is one of JavaScript's own error classes (Node's
// internal errors are subclasses named NodeError, so the constructor's own
// name would not say it).  null for a value that is no Error.
const ERROR_CLASSES = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError,
                       URIError];
if (typeof AggregateError === 'function') ERROR_CLASSES.push(AggregateError);

function errorClass(e) {
  if (e === null || typeof e !== 'object') return null;
  for (let p = Object.getPrototypeOf(e); p !== null; p = Object.getPrototypeOf(p)) {
    const c = Object.prototype.hasOwnProperty.call(p, 'constructor') ? p.constructor : null;
    if (ERROR_CLASSES.includes(c)) return c.name;
  }
  return null;
}

function errorFields(e) {
  if (e === null || typeof e !== 'object') {
    return { code: null, errno: null, syscall: null, address: null, port: -1,
             message: str(e) };
  }
  return {
    code: str(e.code),
    errno: typeof e.errno === 'number' ? e.errno : null,
    syscall: str(e.syscall),
    address: str(e.address),
    port: typeof e.port === 'number' ? e.port : -1,
    message: str(e.message),
  };
}

// ---------------------------------------------------------------------------
// The runtime under test.

function implName() {
  if (typeof globalThis.Deno !== 'undefined') return 'deno';
  if (process.versions && process.versions.bun) return 'bun';
  return (process.release && process.release.name) || 'node';
}

function implVersion() {
  if (typeof globalThis.Deno !== 'undefined') return globalThis.Deno.version.deno;
  if (process.versions && process.versions.bun) return process.versions.bun;
  return process.version;
}

// The socket wraps mksock makes a handle from: process.binding() (public,
// documented, deprecated as DEP0111 but present in every Node line, no flag
// needed); else internal/test/binding when the user started the runtime with
// --expose-internals.  The driver never adds a runtime flag: a runtime
// without either lacks the `mksock` capability (hello says so) and the
// scenarios that need it SKIP.
let bindings = null;
function loadBindings() {
  if (bindings) return bindings;
  let internalBinding;
  const errors = [];
  if (typeof process.binding === 'function') {
    internalBinding = (name) => process.binding(name);
    try {
      const t = internalBinding('tcp_wrap');
      const p = internalBinding('pipe_wrap');
      if (typeof t.TCP !== 'function' || typeof p.Pipe !== 'function') throw new Error('no TCP/Pipe wraps');
    } catch (e) {
      errors.push(`process.binding: ${e && e.message}`);
      internalBinding = null;
    }
  } else {
    errors.push('process.binding is not a function');
  }
  if (!internalBinding) {
    try {
      ({ internalBinding } = createRequire(import.meta.url)('internal/test/binding'));
    } catch (e) {
      errors.push(`internal/test/binding: ${e && e.message}`);
      throw new AdapterError('this runtime cannot make a socket outside net.Server ' +
        `(${errors.join('; ')})`);
    }
  }
  const tcp = internalBinding('tcp_wrap');
  const pipe = internalBinding('pipe_wrap');
  const { getSystemErrorName } = createRequire(import.meta.url)('node:util');
  bindings = { TCP: tcp.TCP, TCPConstants: tcp.constants,
               Pipe: pipe.Pipe, PipeConstants: pipe.constants,
               errname: getSystemErrorName };
  return bindings;
}

class AdapterError extends Error {}

// ---------------------------------------------------------------------------
// Scenario state.

let st = null;            // the current scenario, or null between scenarios
let inCall = false;       // inside listen/close/abort: events are `sync`
const emitStack = [];     // {srv, name} of the emissions in progress
let currentSeq = null;    // the command in progress (or the last one)
const initialCwd = process.cwd();
const initialUmask = process.umask();
let baselineResources = null; // what the runtime held before the first command

function newScenario(id) {
  return {
    id,
    servers: new Map(),   // name -> net.Server
    fns: new Map(),       // label -> reporting function
    handles: new Map(),   // mksock name -> {handle, adopted, taken, inode, closed}
    holding: new Set(),   // names of the servers whose connections are kept (`hold`)
    held: new Set(),      // the accepted sockets kept open, until they close
    waiter: null,         // the `run` in progress
    ac: new AbortController(),
    quiet: false,         // true during teardown: nothing is reported
  };
}

function report(ev) {
  writeLine(ev);
}

// Wrap server.emit (an instance property, so the prototype is untouched) to
// report the four server events before their listeners run.
function addServer(S, name) {
  const server = net.createServer();
  const orig = server.emit;
  server.emit = function (event, ...args) {
    const live = S === st && !S.quiet && typeof event === 'string';
    if (!live) return orig.call(this, event, ...args);
    if (REPORTED.has(event)) {
      const ev = { ev: 'emit', srv: name, name: event, sync: inCall };
      if (event === 'error') ev.error = errorFields(args[0]);
      report(ev);
      const w = S.waiter;
      if (w && w.srv === name && w.event === event) w.hit();
    }
    emitStack.push({ srv: name, name: event });
    try {
      return orig.call(this, event, ...args);
    } finally {
      emitStack.pop();
      const sock = args[0];
      if (event === 'connection' && sock && typeof sock.destroy === 'function') {
        if (S.holding.has(name)) {
          // `hold`: kept, as a listener that keeps its socket.  The socket
          // reads (nobody consumes the data), and when the peer ends it,
          // net.Socket (allowHalfOpen false) ends and destroys itself, which
          // is when the server counts it gone.  A reset is no crash.
          S.held.add(sock);
          sock.on('error', () => {});
          sock.on('close', () => S.held.delete(sock));
        } else {
          // Accepted connections are not part of the contract under test:
          // dropped at once, after the listeners saw them.
          sock.destroy();
        }
      }
    }
  };
  S.servers.set(name, server);
  return server;
}

// A labelled function: calling it reports `call`.  The same label is the
// same function within a scenario, as a named function in user code is.
function labelledFn(S, label, owner) {
  if (S.fns.has(label)) return S.fns.get(label);
  const fn = function (...args) {
    if (S !== st || S.quiet) return;
    const top = emitStack[emitStack.length - 1];
    const ev = { ev: 'call', srv: top ? top.srv : owner, name: top ? top.name : null,
                 label, sync: inCall };
    if (isError(args[0])) ev.error = errorFields(args[0]);
    report(ev);
  };
  S.fns.set(label, fn);
  return fn;
}

// listen.args decoding (PROTOCOL.md, "JavaScript argument encoding").
function decode(S, v, owner) {
  if (Array.isArray(v)) return v.map((x) => decode(S, x, owner));
  if (v === null || typeof v !== 'object') return v;
  if (!Object.prototype.hasOwnProperty.call(v, '$')) {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = decode(S, x, owner);
    return out;
  }
  switch (v.$) {
    case 'fn':
      if (typeof v.label !== 'string') throw new AdapterError('{"$":"fn"} needs a string label');
      return labelledFn(S, v.label, owner);
    case 'undefined':
      return undefined;
    case 'num': {
      const nums = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };
      if (!Object.prototype.hasOwnProperty.call(nums, v.v)) {
        throw new AdapterError(`{"$":"num"} with unknown v ${JSON.stringify(v.v)}`);
      }
      return nums[v.v];
    }
    case 'signal':
      return S.ac.signal;
    case 'handle': {
      const h = S.handles.get(v.name);
      if (!h) throw new AdapterError(`no mksock handle named ${JSON.stringify(v.name)}`);
      return h.handle;
    }
    case 'bigint':
      try {
        return BigInt(v.v);
      } catch {
        throw new AdapterError(`{"$":"bigint"} with bad v ${JSON.stringify(v.v)}`);
      }
    case 'symbol':
      return Symbol(typeof v.v === 'string' ? v.v : 'lc');
    default:
      throw new AdapterError(`unknown "$" tag ${JSON.stringify(v.$)}`);
  }
}

function serverOf(cmd) {
  const name = cmd.srv === undefined ? 'A' : cmd.srv;
  const server = st.servers.get(name);
  if (!server) throw new AdapterError(`no server named ${JSON.stringify(name)} in this scenario`);
  return [name, server];
}

// A call into the implementation: sync events are marked, a throw is a
// `throw` response.
function callImpl(seq, f, server) {
  inCall = true;
  let ret;
  try {
    ret = f();
  } catch (e) {
    const obj = e !== null && typeof e === 'object';
    const res = { r: 'throw', seq, code: obj ? str(e.code) : null,
                  name: obj ? str(e.name) : typeof e, class: errorClass(e),
                  message: obj ? str(e.message) : String(e) };
    // A system error's errno (ErrnoException); a Node error (ERR_*) has none.
    if (obj && typeof e.errno === 'number') res.errno = e.errno;
    return res;
  } finally {
    inCall = false;
    markAdopted();
  }
  // `self`: whether the call returned the server itself (listen() and
  // close() do, so calls chain).
  return server === undefined ? { r: 'ok', seq } : { r: 'ok', seq, self: ret === server };
}

// A handle object a server uses as its own is `adopted` (the server closes
// it); a handle whose descriptor a server opened a wrap of its own on
// (listen({ fd })) is `taken`: the socket is the implementation's from then
// on, as a descriptor inherited by a process is its own.
function markAdopted() {
  if (!st) return;
  for (const h of st.handles.values()) {
    for (const s of st.servers.values()) {
      if (!s._handle) continue;
      if (s._handle === h.handle) h.adopted = true;
      else if (h.inode && s._handle.fd === h.handle.fd) h.taken = true;
    }
  }
}

// What descriptor `fd` of this process is ("socket:[INODE]"), or null where
// /proc cannot say.
function fdTarget(fd) {
  if (typeof fd !== 'number' || fd < 0) return null;
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch (e) {
    return e && e.code === 'ENOENT' ? '' : null;
  }
}

const tick = () => new Promise((r) => process.nextTick(r));
const immediate = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// mksock: a socket made by the runner, not by net.Server.

function mksock(cmd) {
  if (typeof cmd.name !== 'string') throw new AdapterError('mksock needs a string name');
  if (st.handles.has(cmd.name)) throw new AdapterError(`mksock ${cmd.name} already exists`);
  const b = loadBindings();
  const family = cmd.family || 'tcp4';
  const doBind = cmd.bind !== false;
  let handle, what, err = 0;
  if (family === 'tcp4' || family === 'tcp6') {
    handle = new b.TCP(b.TCPConstants.SOCKET);
    const address = cmd.address ?? (family === 'tcp4' ? '127.0.0.1' : '::1');
    const port = cmd.port ?? 0;
    what = `${address}:${port}`;
    // libuv's bind sets SO_REUSEADDR itself (uv__tcp_bind).
    if (doBind) {
      err = family === 'tcp4' ? handle.bind(address, port)
        : handle.bind6(address, port, cmd.ipv6Only ? b.TCPConstants.UV_TCP_IPV6ONLY : 0);
    }
  } else if (family === 'unix') {
    if (typeof cmd.path !== 'string') throw new AdapterError('mksock unix needs a path');
    handle = new b.Pipe(b.PipeConstants.SOCKET);
    what = JSON.stringify(cmd.path);
    if (doBind) err = handle.bind(cmd.path);
  } else if (family === 'file') {
    // Not a socket: a regular file, for listen({ fd }) on a descriptor that
    // is open but no socket.
    if (typeof cmd.path !== 'string') throw new AdapterError('mksock file needs a path');
    const fd = fs.openSync(cmd.path, 'w+', 0o600);
    st.handles.set(cmd.name, { handle: { fd, close(cb) { fs.closeSync(fd); if (cb) cb(); } },
                               adopted: false, closed: false });
    return fd;
  } else {
    throw new AdapterError(`mksock: unknown family ${JSON.stringify(family)}`);
  }
  const entry = { handle, adopted: false, taken: false, inode: null, closed: false };
  // A connection to a listening handle nobody adopted is closed at once
  // (net.Server replaces this when it adopts the handle).
  handle.onconnection = (_status, client) => { if (client) client.close(); };
  if (err === 0 && cmd.listen) {
    what += ' (listen)';
    try {
      err = listenElsewhere(cmd.name, handle, family === 'unix' ? 'pipe_wrap' : 'tcp_wrap',
                            typeof cmd.backlog === 'number' ? cmd.backlog : 511);
    } catch (e) {
      handle.close();
      throw e;
    }
  }
  if (err !== 0) {
    handle.close();
    throw new AdapterError(`mksock ${cmd.name}: ${family} ${what} failed: ` +
      `${b.errname(err)} (${err})`);
  }
  entry.inode = fdTarget(handle.fd) || null;
  st.handles.set(cmd.name, entry);
  return handle.fd;
}

// `listen: true`: a socket that already listens, but that this process's
// event loop does not watch -- what a process holds on a socket inherited
// from a parent that listened on it (Node's test-listen-fd-server).  The
// handle cannot listen here: libuv would watch its fd, and listen({ fd })
// would then be refused (uv_tcp_open: EEXIST, an fd its loop already
// watches).  So a short-lived helper, the same runtime started with no flag
// but --expose-internals when this one has it, gets the socket as its fd 3,
// makes it listen through a wrap of its own and exits: the socket listens
// (the state is the socket's, not the descriptor's) and only this process
// holds it.  spawnSync runs on a loop of its own and closes its pipes before
// it returns, and the helper is reaped by then: nothing of it outlives the
// command.  Returns 0 or the helper's libuv error number.
const LISTEN_HELPER = `'use strict';
const [kind, backlog] = process.argv.slice(1);
let b;
try { b = process.binding(kind); } catch { b = require('internal/test/binding').internalBinding(kind); }
const h = new (kind === 'tcp_wrap' ? b.TCP : b.Pipe)(b.constants.SERVER);
let err = h.open(3);
if (err === 0) err = h.listen(Number(backlog));
if (err !== 0) process.stderr.write('uv error ' + err + '\\n');
process.exit(err === 0 ? 0 : 3);
`;
const LISTEN_HELPER_MS = 10000;

function listenElsewhere(name, handle, kind, backlog) {
  if (typeof handle.fd !== 'number' || handle.fd < 0) {
    throw new AdapterError(`mksock ${name}: listen needs a bound socket (bind = true)`);
  }
  const flags = process.execArgv.includes('--expose-internals') ? ['--expose-internals'] : [];
  const r = childProcess.spawnSync(process.execPath,
    [...flags, '-e', LISTEN_HELPER, kind, String(backlog)],
    { stdio: ['ignore', 'ignore', 'pipe', handle.fd], timeout: LISTEN_HELPER_MS,
      killSignal: 'SIGKILL', encoding: 'utf8' });
  const said = String(r.stderr || '').trim();
  const m = /^uv error (-\d+)$/m.exec(said);
  if (r.status === 3 && m) return Number(m[1]);
  if (r.error || r.status !== 0) {
    const how = r.error ? `${r.error.code || ''} ${r.error.message}`.trim()
      : r.signal ? `signal ${r.signal}` : `exit status ${r.status}`;
    throw new AdapterError(`mksock ${name}: the helper process (${process.execPath}) that ` +
      `makes the socket listen failed: ${how}${said ? `: ${said.slice(0, 400)}` : ''}`);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// end: close everything, then check that nothing is left.

// Without getActiveResourcesInfo (other runtimes) nothing can be checked, so
// no end is clean and the driver replaces the runner after each scenario.
const NO_RESOURCE_INFO = 'process.getActiveResourcesInfo() unavailable';
function activeResources() {
  return typeof process.getActiveResourcesInfo === 'function'
    ? process.getActiveResourcesInfo() : [NO_RESOURCE_INFO];
}

function resourceDiff(now) {
  const left = [...now];
  for (const r of baselineResources || []) {
    const i = left.indexOf(r);
    if (i >= 0 && r !== NO_RESOURCE_INFO) left.splice(i, 1);
  }
  return left;
}

function closeServer(server) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 500);
    try {
      server.close(() => { clearTimeout(t); resolve(); });
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

function closeHandle(h) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 500);
    try {
      h.handle.close(() => { clearTimeout(t); resolve(); });
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

// A handle no server adopted.  Its descriptor may no longer be the socket
// mksock made: the implementation took it (listen({ fd })) and closed it --
// the number may name another descriptor by now, so the wrap is not closed
// (that would close the number again), only unreferenced.  A socket the
// implementation took and still holds once its servers are closed is left
// open too: the driver, which reads the fd tables from /proc, reports it as
// the implementation's leak (closing it here would hide the leak).  Only a
// socket no server took is the runner's to close.
function releaseHandle(h) {
  if (h.inode && (h.taken || fdTarget(h.handle.fd) !== h.inode)) {
    if (typeof h.handle.unref === 'function') h.handle.unref();
    return Promise.resolve();
  }
  return closeHandle(h);
}

async function teardown() {
  const S = st;
  S.quiet = true;
  if (S.waiter) S.waiter.cancel();
  markAdopted();
  for (const s of S.servers.values()) s.on('error', () => {}); // no crash while closing
  for (const c of S.held) c.destroy(); // else close() would wait for them
  const deadline = Date.now() + END_DEADLINE_MS;
  let leftover;
  for (;;) {
    for (const s of S.servers.values()) {
      if (s._handle || s.listening) await closeServer(s);
    }
    for (const h of S.handles.values()) {
      // A handle a server adopted is closed by that server.
      if (!h.closed && !h.adopted) { h.closed = true; await releaseHandle(h); }
    }
    await immediate();
    await immediate();
    leftover = resourceDiff(activeResources());
    if (leftover.length === 0 || Date.now() >= deadline) break;
    // Something still pending (a dns lookup before listen, a closing
    // socket): give it time, then close again what it opened.
    await sleep(10);
    await immediate();
  }
  st = null;
  try { process.chdir(initialCwd); } catch { /* the start dir went away */ }
  process.umask(initialUmask);
  return leftover;
}

// ---------------------------------------------------------------------------
// Commands.

function handle(cmd) {
  const seq = cmd.seq;
  const op = cmd.op;
  if (typeof op !== 'string') throw new AdapterError('missing string "op"');
  if (op === 'hello') {
    // What this runtime cannot do: the scenarios that need it SKIP.
    const lacks = [];
    try { loadBindings(); } catch (e) { lacks.push({ capability: 'mksock', reason: e.message }); }
    return { r: 'ok', seq, runner: 'js', impl: implName(), impl_version: implVersion(),
             abi: null, node_version: (process.versions && process.versions.node) || null,
             lacks };
  }
  if (op === 'quit') {
    const bye = () => { writeLine({ r: 'ok', seq }); process.exit(0); };
    if (!st) bye();
    return teardown().then(bye);
  }
  if (op === 'begin') {
    const start = () => {
      if (typeof cmd.cwd === 'string') process.chdir(cmd.cwd);
      // The scenario's umask (socket file modes depend on it); undone at end.
      if (Number.isInteger(cmd.umask) && cmd.umask >= 0 && cmd.umask <= 0o777) process.umask(cmd.umask);
      st = newScenario(cmd.id ?? null);
      addServer(st, 'A');
      return { r: 'ok', seq, pid: process.pid };
    };
    // A scenario left without `end` is ended first, silently.
    return st ? teardown().then(start) : start();
  }
  if (!st) {
    if (KNOWN_OPS.has(op)) throw new AdapterError(`${op}: no scenario in progress (send begin first)`);
    throw new AdapterError(`unknown op ${JSON.stringify(op)}`);
  }
  switch (op) {
    case 'server': {
      const name = cmd.srv;
      if (typeof name !== 'string') throw new AdapterError('server needs a string srv');
      if (st.servers.has(name)) throw new AdapterError(`server ${JSON.stringify(name)} already exists`);
      addServer(st, name);
      return { r: 'ok', seq };
    }
    case 'on': {
      const [name, server] = serverOf(cmd);
      if (typeof cmd.event !== 'string' || typeof cmd.label !== 'string') {
        throw new AdapterError('on needs string event and label');
      }
      if (cmd.then !== undefined && cmd.then !== 'close') {
        throw new AdapterError(`on: field [then] must be close when present, not ${JSON.stringify(cmd.then)}`);
      }
      const fn = labelledFn(st, cmd.label, name);
      if (cmd.then === 'close') {
        // A listener that acts: it records its call, then calls
        // server.close() (no callback) from inside the emission.
        const S = st;
        server.on(cmd.event, function (...args) {
          fn.apply(this, args);
          if (S !== st || S.quiet) return;
          const was = inCall;
          inCall = true;
          try { server.close(); } finally { inCall = was; }
        });
      } else {
        server.on(cmd.event, fn);
      }
      return { r: 'ok', seq };
    }
    case 'listen': {
      const [name, server] = serverOf(cmd);
      if (!Array.isArray(cmd.args)) throw new AdapterError('listen needs an args array');
      const args = decode(st, cmd.args, name);
      return callImpl(seq, () => server.listen(...args), server);
    }
    case 'close': {
      const [name, server] = serverOf(cmd);
      if (cmd.cb !== undefined && cmd.cb !== null && typeof cmd.cb !== 'string') {
        throw new AdapterError('close cb must be a label string');
      }
      const fn = typeof cmd.cb === 'string' ? labelledFn(st, cmd.cb, name) : null;
      if (Object.prototype.hasOwnProperty.call(cmd, 'arg')) {
        // close(VALUE) with a value that is not a function.
        const arg = decode(st, cmd.arg, name);
        return callImpl(seq, () => server.close(arg), server);
      }
      return callImpl(seq, () => (fn ? server.close(fn) : server.close()), server);
    }
    case 'dispose': {
      // server[Symbol.asyncDispose](): LABEL is called when its promise
      // resolves, `LABEL rejected` when it rejects.
      const [name, server] = serverOf(cmd);
      if (typeof cmd.label !== 'string') throw new AdapterError('dispose needs a label');
      if (typeof server[Symbol.asyncDispose] !== 'function') {
        return { r: 'unsupported', seq, message: 'net.Server has no Symbol.asyncDispose' };
      }
      const ok = labelledFn(st, cmd.label, name);
      const bad = labelledFn(st, `${cmd.label} rejected`, name);
      return callImpl(seq, () => { server[Symbol.asyncDispose]().then(() => ok(), () => bad()); });
    }
    case 'hold': {
      // From now on the server's accepted connections stay open until their
      // peer ends them (PROTOCOL.md).
      const [name] = serverOf(cmd);
      st.holding.add(name);
      return { r: 'ok', seq };
    }
    case 'fail': {
      // A one-shot failure of the implementation's next accept() / chmod()
      // (PROTOCOL.md): the C host wraps those calls itself; a runtime's
      // system calls are out of the adapter's reach.
      return { r: 'unsupported', seq,
               message: "a JavaScript runtime's system calls cannot be made to fail from outside" };
    }
    case 'abort': {
      serverOf(cmd);
      return callImpl(seq, () => st.ac.abort());
    }
    case 'address': {
      const [, server] = serverOf(cmd);
      const value = server.address();
      return { r: 'ok', seq, value: value === undefined ? null : value };
    }
    case 'listening': {
      const [, server] = serverOf(cmd);
      return { r: 'ok', seq, value: server.listening };
    }
    case 'fd': {
      const [, server] = serverOf(cmd);
      const fd = server._handle ? server._handle.fd : undefined;
      return { r: 'ok', seq, value: typeof fd === 'number' ? fd : -1 };
    }
    case 'mksock':
      return { r: 'ok', seq, fd: mksock(cmd) };
    case 'run': {
      const [name] = serverOf(cmd);
      if (typeof cmd.until !== 'string') throw new AdapterError('run needs a string until');
      const ms = typeof cmd.ms === 'number' ? cmd.ms : DEFAULT_RUN_MS;
      const S = st;
      // The loop runs only while a command yields, so every earlier emission
      // was reported before an earlier response: wait for the next one.
      return new Promise((resolve) => {
        const t = setTimeout(() => { S.waiter = null; resolve('timeout'); }, ms);
        S.waiter = {
          srv: name,
          event: cmd.until,
          hit() { clearTimeout(t); S.waiter = null; resolve('ok'); },
          cancel() { clearTimeout(t); S.waiter = null; resolve('timeout'); },
        };
      }).then((outcome) => ({ r: outcome, seq }));
    }
    case 'settle':
      return immediate().then(immediate).then(tick).then(() => ({ r: 'ok', seq }));
    case 'end':
      return teardown().then((leftover) => {
        const res = { r: 'ok', seq, status: 'exit 0', clean: leftover.length === 0 };
        if (leftover.length) res.leftover = leftover;
        return res;
      });
    default:
      throw new AdapterError(`unknown op ${JSON.stringify(op)}`);
  }
}

const KNOWN_OPS = new Set(['hello', 'begin', 'server', 'on', 'listen', 'close', 'dispose', 'address',
  'listening', 'abort', 'fd', 'mksock', 'hold', 'run', 'settle', 'end', 'quit', 'fail']);

// ---------------------------------------------------------------------------
// Input.  The next command is read with a blocking read of fd 0, so the event
// loop does not run between commands: consecutive commands run in one
// JavaScript turn, like consecutive statements of user code, and events
// happen only inside a command (listen, close, abort: `sync`) or while
// `run`, `settle` or `end` yields to the loop -- as with the C host.
// process.stdin is never touched (it would make fd 0 non-blocking).

function seqFromText(text) {
  const m = /"seq"\s*:\s*(-?\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

function errorResponse(cmd, e) {
  const message = e instanceof AdapterError ? e.message
    : `${cmd.op}: ${e && e.code ? e.code + ': ' : ''}${e && e.message ? e.message : String(e)}`;
  return { r: 'error', seq: cmd.seq, message };
}

// Answers one line; returns a Promise when the command yields to the loop.
function dispatch(item) {
  if (item.error) {
    currentSeq = item.seq;
    writeLine({ r: 'error', seq: item.seq, message: item.error });
    return null;
  }
  let cmd;
  try {
    cmd = JSON.parse(item.text);
  } catch (e) {
    currentSeq = seqFromText(item.text);
    writeLine({ r: 'error', seq: currentSeq, message: `unparseable line: ${e.message}` });
    return null;
  }
  if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) {
    writeLine({ r: 'error', seq: null, message: 'a command must be a JSON object' });
    return null;
  }
  if (!Number.isInteger(cmd.seq)) {
    writeLine({ r: 'error', seq: null, message: 'command without an integer "seq"' });
    return null;
  }
  currentSeq = cmd.seq;
  let res;
  try {
    res = handle(cmd);
  } catch (e) {
    res = errorResponse(cmd, e);
  }
  if (res instanceof Promise) {
    return res.then(writeLine, (e) => writeLine(errorResponse(cmd, e)));
  }
  writeLine(res);
  return null;
}

const inBuf = Buffer.alloc(65536);
const napCell = new Int32Array(new SharedArrayBuffer(4));
const ready = [];     // complete lines not yet answered
let partial = [];     // Buffers of the current line so far
let partialLen = 0;
let overlong = false;
let eof = false;

function readChunk() {
  for (;;) {
    try {
      return fs.readSync(0, inBuf, 0, inBuf.length, null);
    } catch (e) {
      // A non-blocking fd 0 (inherited so): wait a little and read again.
      if (e && e.code === 'EAGAIN') { Atomics.wait(napCell, 0, 0, 2); continue; }
      if (e && e.code === 'EOF') return 0;
      throw e;
    }
  }
}

function takeLine() {
  const text = Buffer.concat(partial).toString('utf8');
  if (overlong) {
    ready.push({ error: `line too long: ${partialLen} bytes, the limit is ${MAX_LINE}`,
                 seq: seqFromText(text) });
  } else if (text.trim() !== '') {
    ready.push({ text });
  }
  partial = [];
  partialLen = 0;
  overlong = false;
}

function split(chunk) {
  let start = 0;
  for (;;) {
    const nl = chunk.indexOf(10, start);
    // Copied: inBuf is reused by the next read.
    const piece = Buffer.from(chunk.subarray(start, nl === -1 ? chunk.length : nl));
    if (!overlong && partialLen + piece.length > MAX_LINE) {
      overlong = true;
      partial.push(piece.subarray(0, 256));
    } else if (!overlong) {
      partial.push(piece);
    }
    partialLen += piece.length;
    if (nl === -1) return;
    takeLine();
    start = nl + 1;
  }
}

// The next line, blocking; null at the end of input.
function nextLine() {
  while (ready.length === 0) {
    if (eof) return null;
    const n = readChunk();
    if (n === 0) {
      eof = true;
      if (partialLen) takeLine();
    } else {
      split(inBuf.subarray(0, n));
    }
  }
  return ready.shift();
}

function serve() {
  for (;;) {
    const item = nextLine();
    if (item === null) process.exit(0);
    if (baselineResources === null) baselineResources = activeResources();
    const pending = dispatch(item);
    if (pending) {
      pending.then(serve);
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// Crashes: an uncaught exception (e.g. an 'error' emitted with no listener)
// ends the runner with a `crash` response; the stack goes to stderr only.

function crash(kind, e) {
  try {
    process.stderr.write(`adapter: ${kind}: ${e && e.stack ? e.stack : String(e)}\n`);
  } catch { /* stderr gone */ }
  writeLine({ r: 'crash', seq: currentSeq, exit: EXIT_CRASH,
              message: `${kind}: ${e && e.message ? e.message : String(e)}` });
  process.exit(EXIT_CRASH);
}
process.on('uncaughtException', (e) => crash('uncaught exception', e));
process.on('unhandledRejection', (e) => crash('unhandled rejection', e));

// Create process.stderr now (a PipeWrap when stderr is a pipe), so that it is
// part of the baseline and not mistaken for a scenario's leftover when a
// warning first writes to it.
void process.stderr;
// Start serving from a fresh turn, after the module has finished loading.
setImmediate(serve);
