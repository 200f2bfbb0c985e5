"""Lanes: the scenarios of one run side by side, in forked copies of the driver.

`--lanes N` (`./lc LANES=N`; `./lc` runs 2 lanes on a machine of two cores or
more) runs N scenarios at a time.  Once pytest has collected them, the driver
forks N-1 copies of itself: no second interpreter, no second collection, the
table already in memory (pytest-xdist starts N interpreters, each of which
collects again; at this size that costs more than it saves).

    tickets   every collected scenario's position, written once into a pipe
              before the fork; a lane reads the next one (4 bytes, one
              read: no two lanes get the same position) until none is left
    lane k    its own runners (C host or JavaScript runtime), its own private
              /etc/hosts and name server; for each ticket it announces the
              position ("take"), runs the scenario, and sends the outcome
              ("done") on a pipe of its own
    driver    lane 0: takes tickets too, and pytest reports every scenario in
              the order collected, from the driver.  For a scenario another
              lane took it waits for that lane's outcome, running its own next
              ticket meanwhile.

Nothing is judged differently: each scenario runs as it would serially, with
its own directory, ports, abstract names and scenario process; the runners of
two lanes share nothing (scenarios already run side by side under pytest-xdist
and in the project's tests).

A lane can die (an OOM kill, a bug in the driver): the positions it took and
did not finish run in the driver, and the summary says so.  A lane says
nothing for SILENCE seconds while the driver waits on it: it is killed, the
same.  A lane ends when the tickets run out; it is ended (SIGTERM, then
SIGKILL) at Ctrl-C, at -x or --maxfail, and when the driver dies
(PR_SET_PDEATHSIG).  Its runners die with it (runner.py); what a lane killed
outright leaves in the temporary directory, the driver removes (`killed`).

On the 2-core VM this was written on, two lanes give node 1.39x and the
reference 1.17x (make bench): two processes that fork and take page faults
at once slow each other down there, and every scenario forks.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import pickle
import select
import signal
import struct
import sys
import termios
import time

# How long the driver waits on a lane that says nothing (every call a
# scenario makes has a deadline of its own, so a lane that is silent this long
# is stuck in the driver's own code).
SILENCE = 180.0
# How long a lane has to end (its runners told to quit) before it is killed.
END_GRACE = 10.0
_TICKET = struct.Struct("<I")
_FRAME = struct.Struct("<I")
_PR_SET_PDEATHSIG = 1
_F_SETPIPE_SZ = 1031

# What a lane let go of from the driver (its runners' pipe ends, closed in the
# lane): kept referenced, so that no finalizer closes those fd numbers again
# once they are reused.
_ABANDONED: list = []


def wanted(value) -> int:
    """The number of lanes a --lanes value asks for: 'auto' is 2 on a
    machine of two cores or more, else 1; a number, as it is."""
    if value in (None, "", "auto"):
        return 2 if (os.cpu_count() or 1) >= 2 else 1
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise ValueError(f"--lanes {text}: 'auto' or a number of lanes from 1 to 64")
    return int(text)


def abandon(obj):
    """Keep obj referenced for the lane's life (see _ABANDONED)."""
    _ABANDONED.append(obj)


class _Lane:
    def __init__(self, number: int, pid: int, fd: int):
        self.number = number
        self.pid = pid
        self.fd = fd
        self.buf = b""
        self.alive = True
        self.taken: set[int] = set()      # announced, no outcome yet
        self.said_bye = False             # ended its work: no ticket left
        self.ended_on_purpose = False     # by close(): -x, --maxfail, Ctrl-C
        self.heard = time.monotonic()


class Lanes:
    """N-1 forked lanes beside the driver, over positions 0..count-1.

    run_one(pos) -> a picklable outcome, in whichever process runs it;
    setup() runs in a lane after the fork and returns its teardown."""

    def __init__(self, n: int, count: int, run_one, setup, killed=None):
        self.run_one = run_one
        # Called after a lane had to be killed (SIGKILL: no teardown ran), to
        # remove what it left (session.py: its temporary directories).
        self.killed = killed
        self.done: dict[int, object] = {}
        self.lanes: list[_Lane] = []
        self.problems: list[str] = []     # for the summary: lanes that ended early
        self.here = 0                     # positions the driver ran itself
        self.tickets = None
        self._start(n, count, setup)

    # -- start ----------------------------------------------------------------------
    def _start(self, n, count, setup):
        r, w = os.pipe()
        data = b"".join(_TICKET.pack(i) for i in range(count))
        try:
            if len(data) > 65536:
                fcntl.fcntl(w, _F_SETPIPE_SZ, len(data))
            os.set_blocking(w, False)
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        except OSError:
            # The pipe cannot hold every ticket: no lanes, the driver runs all.
            os.close(r)
            os.close(w)
            return
        os.close(w)             # no writer left: an empty pipe reads as its end
        self.tickets = r
        sys.stdout.flush()
        sys.stderr.flush()
        driver = os.getpid()
        cpus = _cpus_for(n)
        # No signal handler runs between the fork and the lane's own ones:
        # the driver's would raise in the lane, inside pytest's code.
        stop = {signal.SIGINT, signal.SIGTERM}
        was = signal.pthread_sigmask(signal.SIG_BLOCK, stop)
        try:
            for k in range(1, n):
                pr, pw = os.pipe()
                pid = os.fork()
                if pid == 0:                                  # the lane
                    try:
                        os.close(pr)
                        for other in self.lanes:
                            os.close(other.fd)
                        self._lane_main(k, pw, driver, setup, was, cpus[k] if cpus else None)
                    finally:
                        os._exit(1)                           # never back into pytest
                os.close(pw)
                self.lanes.append(_Lane(k, pid, pr))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, was)

    def _lane_main(self, number, out, driver, setup, mask, cpu=None):
        status = 0
        try:
            if cpu is not None:
                _pin(cpu)
            try:
                ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM,
                                                        0, 0, 0)
            except (OSError, AttributeError):
                pass
            if os.getppid() != driver:
                os._exit(0)
            # The driver ends its lanes (SIGTERM): the scenario in hand stops
            # and the teardown ends the lane's runners.  Ctrl-C at a terminal
            # reaches the lane too: the driver decides, so it is let pass
            # (a handler, not SIG_IGN, which the runners would inherit).
            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, lambda *_: None)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            teardown = setup()
            try:
                while True:
                    pos = self._take()
                    if pos is None:
                        break
                    _send(out, ("take", pos))
                    _send(out, ("done", pos, self.run_one(pos)))
            finally:
                teardown()
            _send(out, ("bye",))
        except BaseException as e:        # noqa: BLE001 - said to the driver, then gone
            status = 1
            try:
                _send(out, ("error", f"{type(e).__name__}: {e}"[:500]))
            except BaseException:         # noqa: BLE001
                pass
        os._exit(status)                   # no atexit, no pytest finalizers: the driver's

    def _take(self) -> int | None:
        if self.tickets is None:
            return None
        try:
            b = os.read(self.tickets, _TICKET.size)
        except OSError:
            return None
        return _TICKET.unpack(b)[0] if len(b) == _TICKET.size else None

    # -- the driver's side -------------------------------------------------------
    def outcome(self, pos: int):
        """The outcome of the scenario at `pos`, from whichever lane ran it
        (the driver, when no lane did)."""
        while pos not in self.done:
            self._drain(block=False)
            if pos in self.done:
                break
            if any(pos in ln.taken for ln in self.lanes if ln.alive):
                mine = self._take()
                if mine is not None:
                    self._run_here(mine)          # while that lane works
                else:
                    self._drain(block=True)
                continue
            mine = self._take()
            if mine is not None:
                self._run_here(mine)
            elif not self._drain(block=True):
                # No lane left to run it (one died with the ticket, or never
                # started): here.
                self._run_here(pos)
        return self.done.pop(pos)

    def _run_here(self, pos):
        self.here += 1
        self.done[pos] = self.run_one(pos)

    def _drain(self, block: bool) -> bool:
        """Read what the lanes sent; with block, wait (at most SILENCE) until
        one says something.  False when no lane is alive."""
        alive = [ln for ln in self.lanes if ln.alive]
        if not alive:
            return False
        timeout = SILENCE if block else 0
        ready, _, _ = select.select([ln.fd for ln in alive], [], [], timeout)
        if block and not ready:
            quiet = min(alive, key=lambda ln: ln.heard)
            self._lost(quiet, f"said nothing for {SILENCE:.0f} s")
            return True
        for ln in alive:
            if ln.fd in ready:
                self._read(ln)
        return True

    def _read(self, ln: _Lane):
        try:
            chunk = os.read(ln.fd, 1 << 20)
        except OSError as e:
            chunk, why = b"", str(e)
        else:
            why = "ended before its tickets ran out"
        if not chunk:
            if ln.said_bye:                 # its tickets ran out: it ended
                ln.alive = False
                self._end(ln, signal.SIGTERM)
            else:
                self._lost(ln, why)
            return
        ln.heard = time.monotonic()
        ln.buf += chunk
        self._parse(ln)

    def _parse(self, ln: _Lane):
        while len(ln.buf) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(ln.buf)
            if len(ln.buf) < _FRAME.size + size:
                break
            msg = pickle.loads(ln.buf[_FRAME.size:_FRAME.size + size])
            ln.buf = ln.buf[_FRAME.size + size:]
            if msg[0] == "take":
                ln.taken.add(msg[1])
            elif msg[0] == "done":
                ln.taken.discard(msg[1])
                self.done[msg[1]] = msg[2]
            elif msg[0] == "bye":
                ln.said_bye = True
            elif msg[0] == "error" and not ln.ended_on_purpose:
                self.problems.append(f"lane {ln.number} failed ({msg[1]})")

    def _lost(self, ln: _Lane, why: str):
        """A lane that is gone or stuck: ended; what it took runs here."""
        if not any(p.startswith(f"lane {ln.number} ") for p in self.problems):
            self.problems.append(f"lane {ln.number} {why}")
        if ln.taken:
            self.problems[-1] += (f"; the {len(ln.taken)} scenario(s) it had taken ran "
                                  f"in the driver")
        ln.alive = False
        ln.taken.clear()
        self._end(ln, signal.SIGKILL)

    # -- end -----------------------------------------------------------------------
    def close(self):
        """End every lane: those still running are asked (SIGTERM) and then
        made (SIGKILL) to end; each is reaped."""
        for ln in self.lanes:
            if ln.alive:
                ln.alive = False
                self._end(ln, signal.SIGTERM, on_purpose=True)
        if self.tickets is not None:
            os.close(self.tickets)
            self.tickets = None

    def _end(self, ln: _Lane, sig, on_purpose=False):
        """Reap the lane (signalled when it does not end on its own), then
        read what it said last.  on_purpose: close() ends it (-x, --maxfail,
        Ctrl-C): the error a signal made it say is no problem."""
        if self._reap(ln, sig) and on_purpose:
            ln.ended_on_purpose = True
        if ln.fd >= 0:
            # What it said last (an error on its way out), for the summary.
            try:
                os.set_blocking(ln.fd, False)
                while len(ln.buf) < (1 << 24):
                    chunk = os.read(ln.fd, 1 << 20)
                    if not chunk:
                        break
                    ln.buf += chunk
            except OSError:
                pass
            self._parse(ln)
            try:
                os.close(ln.fd)
            except OSError:
                pass
            ln.fd = -1

    def _reap(self, ln: _Lane, sig) -> bool:
        """Whether it had to be signalled."""
        signalled = killed = False
        if ln.pid <= 0:
            return signalled
        try:
            # A lane with no scenario in hand and no ticket left is ending on
            # its own (its runners told to quit): it is given the time; any
            # other is signalled at once.
            ending = sig == signal.SIGTERM and not ln.taken and not self._tickets_left()
            for send in ((None, sig, signal.SIGKILL) if ending else (sig, signal.SIGKILL)):
                if send is not None:
                    os.kill(ln.pid, send)
                    signalled = True
                    killed = send == signal.SIGKILL
                deadline = time.monotonic() + END_GRACE
                while True:
                    pid, _ = os.waitpid(ln.pid, os.WNOHANG)
                    if pid or time.monotonic() >= deadline:
                        break
                    time.sleep(0.002)
                if pid:
                    break
            else:
                os.waitpid(ln.pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass
        ln.pid = 0
        if killed and self.killed is not None:
            try:
                self.killed()
            except OSError:
                pass
        return signalled

    def _tickets_left(self) -> bool:
        if self.tickets is None:
            return False
        buf = bytearray(4)
        try:
            fcntl.ioctl(self.tickets, termios.FIONREAD, buf)
        except OSError:
            return False
        return struct.unpack("i", buf)[0] > 0


def _cpus_for(n: int) -> list[int] | None:
    """The CPU each lane keeps to (lane k: the k-th this process may use),
    when there are as many as lanes; None: the lanes go where the kernel
    puts them.  A lane and its runners on one CPU of their own ran the
    reference 5% faster on the 2-core VM (1.88 s against 1.99 s; node: 1%),
    fewer wake-ups crossing CPUs; the driver, lane 0, is not pinned, so
    that it can take a CPU a lane leaves idle."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return cpus if 1 < n <= len(cpus) else None


def _pin(cpu: int):
    """This lane, and the runners it starts next, on `cpu` only."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        pass  # a CPU taken away meanwhile: the lane runs unpinned


def _stop(signum, frame):
    raise KeyboardInterrupt(f"lane ended (signal {signum})")


def _send(fd: int, msg):
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    data = _FRAME.pack(len(data)) + data
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
