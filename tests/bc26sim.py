#!/usr/bin/env python3
# bc26sim.py: a simulated Quectel BC26 behind a pseudo-terminal, for bc26d's tests and demo.
# Owns only the "module" side of the UART plus a line-based control socket; stdlib only.
"""Simulated Quectel BC26 NB-IoT module on a pty.

The simulator answers the AT commands bc26d uses (basic, LwM2M, baud), plays the
DFOTA transcript of the vendor guide (section 3.2) and its failure variants on
request, and can be unplugged, reset, silenced or fed garbage through a control
socket.  It is single-threaded: one selectors loop plus a heap of timers.

Control socket protocol (one request line -> exactly one reply line "ok..." or
"err <reason>"):

  ping                          -> ok
  play <scenario> [line_delay]  dfota | coapend-fail | end-fail | stall-downloading |
                                stall-downloaded | stall-updating | reboot | garbage <n>
  urc <text>                    emit "\\r\\n<text>\\r\\n"
  raw <hex>                     write bytes verbatim
  downlink <obj> <inst> <res> <hex>
  silent on|off                 answer no command (commands still logged)
  hold-send on|off              hold SEND OK/SEND FAIL until "hold-send off"
  send-result ok|fail|error     one-shot: what the next AT+QLWDATASEND gets
  connect-result ok|fail|none   sticky: what every following AT+QLWOPEN gets
  fota-resume ok|fail|none      sticky: what a reset does to an interrupted upgrade
  reset | power-on              RESET_N / PWRKEY pulse: reboot whatever the state
  unplug <seconds>              close the pty; relink a new one after <seconds> (0: wait for replug)
  replug                        relink now
  state                         ok echo=<0|1> registered=<0|1> updating=<0|1> silent=<0|1> commands=<n>
  quit                          ok, then exit

Resetting an interrupted upgrade (guide section 4, table 2): a reset (control
"reset"/"power-on", or AT+QRST=1 while the interpreter is up) while the upgrade
is DOWNLOADED makes the module boot and then run the update (START ... END);
while it is UPDATING (e.g. after "play stall-updating") makes it boot and finish
(preamble, RDY, +CFUN: 1, END, +CPIN, +IP).  "fota-resume" chooses the outcome:
ok (default) -> END,0; fail -> END,3; none -> no END ever (UPDATING: only the
preamble, interpreter stays down; DOWNLOADED: a normal boot, upgrade dropped).
A reset while DOWNLOADING aborts the download: a plain boot, no more FOTA URCs.

Other choices worth knowing:
- "silent" and the FOTA "updating" phase only stop answers and echo; URCs and the
  asynchronous CONNECT/SEND/CLOSE results still arrive.
- The interpreter is also down from any restart (boot preamble) until RDY.
- "unplug" forgets the session; the relinked pty is a freshly booted module
  (preamble only with --boot).  Only the AT+IPR/AT&W setting survives (NVRAM).
- "play reboot" is an unexpected restart: it also drops any FOTA phase.
- Log lines: "<CLOCK_MONOTONIC seconds, 6 decimals> <command>" (non-printable bytes
  and backslash as \\xNN) and "# <event>" ("# urc <text>" for every FOTA URC,
  "# play <scenario>", "# reboot <why>", "# unplug", "# replug <pty>", ...).
"""

import argparse
import heapq
import itertools
import os
import random
import selectors
import signal
import socket
import sys
import termios
import time

PREAMBLE = ("F1: 0000 0000", "V0: 0000 0000 [0001]", "00: 0006 000C", "01: 0000 0000",
            "U0: 0000 0001 [0000]", "T0: 0000 00B4", "Leaving the BROM")
IP_URC = "+IP: 100.96.44.128"
MAX_LINE = 4096                 # longer command lines are discarded (never grow unbounded)
MAX_CTRL_LINE = 65536           # "raw"/"downlink" hex can be long
MAX_OUTBUF = 1 << 20            # bytes kept while nobody reads the pty
MAX_GARBAGE = 1 << 20
SPLIT_BULK = 4096              # --split: no gaps while more than this is queued
IPR_RATES = (0, 4800, 9600, 57600, 115200, 230400, 460800, 921600)
CME_INCORRECT_PARAMS = 50       # 3GPP 27.007 "incorrect parameters"

# FOTA phases as the guide's section 4.1 names them.
FOTA_IDLE, FOTA_DOWNLOADING, FOTA_DOWNLOADED, FOTA_UPDATING = (
    "idle", "downloading", "downloaded", "updating")


def fota(what):
    return '+QIND: "FOTA",' + what


def frame(text):
    return b"\r\n" + text.encode("latin-1", "replace") + b"\r\n"


def preamble_bytes():
    # The MT2625 boot ROM frames its lines with LF CR, not CR LF.
    return b"\n\r" + b"".join(p.encode() + b"\n\r" for p in PREAMBLE)


def escape(data):
    """Printable rendering of raw command bytes for the log."""
    out = []
    for b in data:
        if 0x20 <= b < 0x7f and b != 0x5c:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


def split_args(s):
    """Split AT arguments on commas outside quotes: [(text, quoted)] or None."""
    args = []
    cur = []
    quoted = False
    inq = False
    for ch in s:
        if inq:
            if ch == '"':
                inq = False
            else:
                cur.append(ch)
        elif ch == '"':
            if cur or quoted:
                return None
            inq = True
            quoted = True
        elif ch == ",":
            args.append(("".join(cur).strip() if not quoted else "".join(cur), quoted))
            cur = []
            quoted = False
        elif quoted:
            if not ch.isspace():
                return None
        else:
            cur.append(ch)
    if inq:
        return None
    args.append(("".join(cur).strip() if not quoted else "".join(cur), quoted))
    return args


def is_number(text):
    # str.isdigit() alone also accepts "\xb2" (superscript two), which int() rejects.
    return text.isascii() and text.isdigit()


def to_int(tok, lo, hi):
    text, quoted = tok
    if quoted or not is_number(text):
        return None
    v = int(text)
    return v if lo <= v <= hi else None


def make_raw(fd):
    """cfmakeraw() equivalent (the tty module's setraw() misses a few flags)."""
    a = termios.tcgetattr(fd)
    a[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP |
              termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    a[1] &= ~termios.OPOST
    a[2] &= ~(termios.CSIZE | termios.PARENB)
    a[2] |= termios.CS8
    a[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    a[6][termios.VMIN] = 1
    a[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, a)


class Timer:
    __slots__ = ("when", "fn", "alive")

    def __init__(self, when, fn):
        self.when = when
        self.fn = fn
        self.alive = True

    def cancel(self):
        self.alive = False


class Playback:
    """A list of steps run one per line_delay.  A step is a str (emitted as a
    framed line) or a callable (an action that may also write)."""

    def __init__(self, sim, name, steps, delay):
        self.sim = sim
        self.name = name
        self.steps = list(steps)
        self.delay = delay
        self.pos = 0
        self.timer = sim.call_later(0, self.step)

    def step(self):
        if self.pos >= len(self.steps):
            self.sim.playback_done(self)
            return
        item = self.steps[self.pos]
        self.pos += 1
        if callable(item):
            item()
        else:
            self.sim.urc(item)
        if self.sim.playback is not self:
            return          # the step rebooted or unplugged the module
        if self.pos >= len(self.steps):
            self.sim.playback_done(self)
        else:
            self.timer = self.sim.call_later(self.delay, self.step)

    def cancel(self):
        self.timer.cancel()


class CtrlClient:
    def __init__(self, sock):
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()


class Sim:
    def __init__(self, opts):
        self.o = opts
        self.rng = random.Random(opts.seed)
        self.sel = selectors.DefaultSelector()
        self.timers = []
        self.seq = itertools.count()
        self.stopping = False
        self.logf = open(opts.log, "a", encoding="utf-8") if opts.log else None
        self.master = self.slave = None
        self.ttyname = None
        self.outbuf = bytearray()
        self.out_timer = None
        self.want_write = False
        self.read_paused = False
        self.inbuf = bytearray()
        self.discarding = False
        self.playback = None
        self.session_timers = []
        self.replug_timer = None
        self.ctrl = None
        self.commands = 0
        # Sticky control settings.
        self.silent = False
        self.hold_send = False
        self.send_result = "ok"
        self.connect_result = "ok"
        self.fota_resume = "ok"
        # Survives reboots (AT&W writes NVRAM).
        self.ipr_pending = None
        self.ipr_saved = None
        self.fota_phase = FOTA_IDLE
        self.updating = False
        self.booting = False    # interpreter down from a (re)start until RDY
        self.reset_module_state()

    # ---- time and timers ------------------------------------------------

    def call_later(self, delay, fn):
        t = Timer(time.monotonic() + max(0.0, delay), fn)
        heapq.heappush(self.timers, (t.when, next(self.seq), t))
        return t

    def session_later(self, delay, fn):
        t = self.call_later(delay, fn)
        self.session_timers = [x for x in self.session_timers if x.alive]
        self.session_timers.append(t)
        return t

    def run_timers(self):
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, t = heapq.heappop(self.timers)
            if t.alive:
                t.alive = False
                t.fn()

    def next_timeout(self):
        while self.timers and not self.timers[0][2].alive:
            heapq.heappop(self.timers)
        if not self.timers:
            return None
        return max(0.0, self.timers[0][0] - time.monotonic())

    # ---- log -------------------------------------------------------------

    def log(self, text):
        if self.logf:
            self.logf.write(text + "\n")
            self.logf.flush()

    def log_event(self, text):
        self.log("# " + text)

    # ---- module state ----------------------------------------------------

    def reset_module_state(self):
        """What a boot forgets: echo, CMEE, LwM2M context and session."""
        self.echo = True
        self.cmee = 0
        self.serv = None
        self.conf = None
        self.objs = []
        self.forget_session()

    def forget_session(self):
        for t in self.session_timers:
            t.cancel()
        self.session_timers = []
        self.registered = False
        self.connecting = False
        self.con_outstanding = False
        self.held = []
        self.downlink = []

    def interpreter_up(self):
        return not (self.updating or self.booting or self.master is None)

    # ---- pty ---------------------------------------------------------------

    def open_pty(self):
        master, slave = os.openpty()
        make_raw(slave)
        os.set_blocking(master, False)
        self.master, self.slave = master, slave
        self.ttyname = os.ttyname(slave)
        tmp = self.o.link + ".tmp"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(self.ttyname, tmp)
        os.replace(tmp, self.o.link)
        self.sel.register(master, selectors.EVENT_READ, self.on_master)
        self.want_write = False
        self.read_paused = False

    def close_pty(self):
        if self.master is None:
            return
        if self.master in self.sel.get_map():
            self.sel.unregister(self.master)
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = None
        try:
            if os.readlink(self.o.link) == self.ttyname:
                os.unlink(self.o.link)
        except OSError:
            pass
        self.outbuf.clear()
        if self.out_timer:
            self.out_timer.cancel()
            self.out_timer = None
        self.inbuf.clear()
        self.discarding = False

    def update_events(self):
        if self.master is None:
            return
        ev = 0 if self.read_paused else selectors.EVENT_READ
        if self.want_write:
            ev |= selectors.EVENT_WRITE
        known = self.master in self.sel.get_map()
        if ev == 0:
            if known:
                self.sel.unregister(self.master)
        elif known:
            self.sel.modify(self.master, ev, self.on_master)
        else:
            self.sel.register(self.master, ev, self.on_master)

    # ---- output ----------------------------------------------------------

    def write(self, data):
        if self.master is None or not data:
            return
        self.outbuf += data
        if len(self.outbuf) > MAX_OUTBUF:
            drop = len(self.outbuf) - MAX_OUTBUF
            del self.outbuf[:drop]
            self.log_event("dropped %d output bytes (nobody reads the pty)" % drop)
        if self.out_timer is None and not self.want_write:
            self.flush()

    def flush(self):
        self.out_timer = None
        if self.master is None:
            return
        while self.outbuf:
            n = self.rng.randint(1, 7) if self.o.split else len(self.outbuf)
            try:
                w = os.write(self.master, self.outbuf[:n])
            except BlockingIOError:
                w = 0
            except OSError:
                w = 0
            del self.outbuf[:w]
            if w < n:
                self.want_write = True
                self.update_events()
                return
            if self.o.split and self.outbuf and len(self.outbuf) <= SPLIT_BULK \
                    and self.rng.random() < 0.25:
                # Tiny random gaps so the daemon sees partial lines; not after every
                # chunk and not inside bulk output, so "play garbage" stays quick.
                self.out_timer = self.call_later(self.rng.uniform(0, 0.002), self.flush)
                return
        if self.want_write:
            self.want_write = False
            self.update_events()

    def line(self, text):
        self.write(frame(text))

    def urc(self, text):
        if text.startswith('+QIND: "FOTA"'):
            self.log_event("urc " + text)
        self.line(text)

    def reply(self, lines):
        if self.silent:
            return
        for ln in lines:
            self.line(ln)

    # ---- input -----------------------------------------------------------

    def on_master(self, mask):
        if mask & selectors.EVENT_WRITE:
            self.want_write = False
            self.update_events()
            self.flush()
        if self.master is None or not mask & selectors.EVENT_READ:
            return
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # EIO/EOF: no slave opener.  We keep the slave open, so this is rare;
            # pause reading briefly instead of spinning on a readable fd.
            self.read_paused = True
            self.update_events()
            self.call_later(0.05, self.resume_read)
            return
        self.feed(data)

    def resume_read(self):
        if self.master is not None and self.read_paused:
            self.read_paused = False
            self.update_events()

    def feed(self, data):
        for b in data:
            if b in (0x0d, 0x0a):
                if self.discarding:
                    self.discarding = False
                elif self.inbuf:
                    line = bytes(self.inbuf)
                    self.inbuf.clear()
                    self.command(line)
                    if self.master is None:
                        return
                continue
            if self.discarding:
                continue
            if len(self.inbuf) >= MAX_LINE:
                self.inbuf.clear()
                self.discarding = True
                self.log_event("discarded a command line longer than %d bytes" % MAX_LINE)
                continue
            self.inbuf.append(b)

    # ---- AT interpreter --------------------------------------------------

    def command(self, raw):
        self.commands += 1
        self.log("%.6f %s" % (time.monotonic(), escape(raw)))
        if not self.interpreter_up() or self.silent:
            return
        if self.echo:
            self.write(raw + b"\r")
        text = raw.decode("latin-1").strip()
        try:
            res = self.interpret(text)
        except Exception as e:      # odd input must never take the module down
            self.log_event("internal error on %s: %r" % (escape(raw), e))
            res = ["ERROR"]
        if res is not None:
            self.reply(res)

    def error(self, cme=None):
        if cme is not None and self.cmee:
            return ["+CME ERROR: %d" % cme]
        return ["ERROR"]

    def interpret(self, text):
        """Return the response lines, or None when nothing is to be printed."""
        up = text.upper()
        if not up.startswith("AT"):
            return ["ERROR"]
        body = text[2:]
        ub = up[2:]
        if ub == "":
            return ["OK"]
        if ub in ("E", "E0", "E1"):
            # The ATE0 line itself was already echoed above.
            self.echo = ub == "E1"
            return ["OK"]
        if ub == "I":
            return ["Quectel_Ltd", "Quectel_BC26", "Revision: " + self.o.revision, "OK"]
        if ub == "&W":
            if self.ipr_pending is not None:
                self.ipr_saved = self.ipr_pending
            return ["OK"]
        if not ub.startswith("+"):
            return ["ERROR"]
        name = ub
        rest = None
        for i, ch in enumerate(ub):
            if ch in "=?":
                name = ub[:i]
                rest = body[i:]
                break
        handler = getattr(self, "at_" + name[1:].lower(), None) if name[1:].isalnum() else None
        if handler is None:
            return ["ERROR"]
        if rest is None:
            kind, args = "exec", []
        elif rest == "?":
            kind, args = "read", []
        elif rest == "=?":
            kind, args = "test", []
        elif rest.startswith("="):
            kind = "set"
            args = split_args(rest[1:])
            if args is None:
                return ["ERROR"]
        else:
            return ["ERROR"]
        return handler(kind, args)

    def at_cmee(self, kind, args):
        if kind == "read":
            return ["+CMEE: %d" % self.cmee, "OK"]
        if kind == "set" and len(args) == 1 and to_int(args[0], 0, 1) is not None:
            self.cmee = to_int(args[0], 0, 1)
            return ["OK"]
        return ["ERROR"]

    def at_qsclk(self, kind, args):
        if kind == "set" and len(args) == 1 and to_int(args[0], 0, 2) is not None:
            return ["OK"]
        return ["ERROR"]

    def at_cgmr(self, kind, args):
        if kind == "exec":
            return ["Revision: " + self.o.revision, "OK"]
        return ["ERROR"]

    def at_cgsn(self, kind, args):
        if kind == "set" and len(args) == 1 and to_int(args[0], 1, 1) == 1:
            return ["+CGSN: " + self.o.imei, "OK"]
        return ["ERROR"]

    def at_ipr(self, kind, args):
        if kind == "read":
            if self.o.autobaud:
                rate = self.ipr_saved if self.ipr_saved is not None else 0
            else:
                rate = self.ipr_pending if self.ipr_pending is not None else 115200
            return ["+IPR: %d" % rate, "OK"]
        if kind == "set" and len(args) == 1:
            rate = to_int(args[0], 0, 921600)
            if rate in IPR_RATES:
                self.ipr_pending = rate
                return ["OK"]
        return ["ERROR"]

    def at_qlwserv(self, kind, args):
        if kind == "read" and self.serv:
            return ['+QLWSERV: "%s",%d' % self.serv, "OK"]
        if (kind == "set" and len(args) == 2 and args[0][1] and args[0][0]
                and to_int(args[1], 1, 65535) is not None):
            self.serv = (args[0][0], to_int(args[1], 1, 65535))
            return ["OK"]
        return ["ERROR"]

    def at_qlwconf(self, kind, args):
        if kind == "read" and self.conf:
            return ['+QLWCONF: "%s"' % self.conf, "OK"]
        if kind == "set" and args and args[0][1] and args[0][0]:
            self.conf = args[0][0]
            return ["OK"]
        return ["ERROR"]

    def at_qlwaddobj(self, kind, args):
        if kind != "set" or len(args) not in (2, 4):
            return ["ERROR"]
        obj = to_int(args[0], 0, 65535)
        inst = to_int(args[1], 0, 65535)
        if obj is None or inst is None:
            return ["ERROR"]
        if len(args) == 4 and (to_int(args[2], 0, 65535) is None or not args[3][1]):
            return ["ERROR"]
        self.objs.append((obj, inst))
        return ["OK"]

    def at_qlwcfg(self, kind, args):
        if (kind == "set" and len(args) == 3 and args[0] == ("dataformat", True)
                and to_int(args[1], 0, 1) is not None and to_int(args[2], 0, 1) is not None):
            return ["OK"]
        return ["ERROR"]

    def at_qlwopen(self, kind, args):
        if kind != "set" or len(args) != 1 or to_int(args[0], 0, 1) is None:
            return ["ERROR"]
        if self.registered or not (self.serv and self.conf and self.objs):
            return ["ERROR"]
        # A new QLWOPEN while one is still pending restarts the attempt, so a
        # daemon that timed out on "connect-result none" can retry.
        for t in self.session_timers:
            t.cancel()
        self.connecting = True
        if self.connect_result != "none":
            self.session_later(self.o.connect_delay, self.connect_done)
        return ["OK"]

    def connect_done(self):
        self.connecting = False
        if self.connect_result == "fail":
            self.urc("CONNECT FAIL")
            return
        self.registered = True
        self.urc("CONNECT OK")
        obj, inst = self.objs[0] if self.objs else (19, 0)
        first = "+QLWOBSERVE: 0,%d,%d,0" % (obj, inst)
        self.session_later(self.o.line_delay, lambda: self.urc(first))
        self.session_later(2 * self.o.line_delay, lambda: self.urc("+QLWOBSERVE: 0,5,0,3"))

    def at_qlwdatasend(self, kind, args):
        if kind != "set" or len(args) != 6:
            return self.error(CME_INCORRECT_PARAMS)
        ids = [to_int(a, 0, 65535) for a in args[:3]]
        length = to_int(args[3], 1, 512)
        data = args[4][0]
        mode = args[5][0].lower()
        ok = None not in ids and length is not None and mode in ("0x0000", "0x0100")
        if ok:
            try:
                ok = len(data) % 2 == 0 and len(bytes.fromhex(data)) == length
            except ValueError:
                ok = False
            ok = ok and " " not in data
        if not ok:
            return self.error(CME_INCORRECT_PARAMS)
        if not self.registered or self.con_outstanding:
            # The module refuses a second CON while one awaits its result.
            return ["ERROR"]
        result, self.send_result = self.send_result, "ok"
        if result == "error":
            return ["ERROR"]
        if mode == "0x0100":
            self.con_outstanding = True
            text = "SEND OK" if result == "ok" else "SEND FAIL"
            self.session_later(self.o.send_delay, lambda: self.send_done(text))
        return ["OK"]

    def send_done(self, text):
        if self.hold_send:
            self.held.append(text)
            return
        self.con_outstanding = False
        self.urc(text)

    def release_held(self):
        if not self.held or self.hold_send:
            return
        self.urc(self.held.pop(0))
        if self.held:
            self.session_later(self.o.line_delay, self.release_held)
        else:
            self.con_outstanding = False

    def at_qlwrd(self, kind, args):
        if kind != "set" or len(args) != 1:
            return ["ERROR"]
        n = to_int(args[0], 1, 512)
        if n is None:
            return ["ERROR"]
        if not self.downlink:
            return ["+QLWRD: 0", "OK"]
        msg = self.downlink[0]
        taken, rest = msg[:n], msg[n:]
        if rest:
            self.downlink[0] = rest
        else:
            self.downlink.pop(0)
        return ["+QLWRD: %d,%d" % (len(taken), len(rest)), taken.hex().upper(), "OK"]

    def at_qlwclose(self, kind, args):
        if kind != "exec":
            return ["ERROR"]
        self.forget_session()
        self.reply(["OK"])
        self.session_later(self.o.line_delay, lambda: self.urc("CLOSE OK"))
        return None

    def at_qlwdel(self, kind, args):
        if kind != "exec":
            return ["ERROR"]
        self.forget_session()
        self.serv = self.conf = None
        self.objs = []
        return ["OK"]

    def at_qrst(self, kind, args):
        if kind == "set" and len(args) == 1 and to_int(args[0], 1, 1) == 1:
            self.reboot("AT+QRST=1")
            return None     # reboots at once: no OK
        return ["ERROR"]

    # ---- boots and scenarios ---------------------------------------------

    def preamble_step(self):
        # The module restarted: whatever it knew about the session is gone,
        # and it answers nothing until RDY.
        self.reset_module_state()
        self.booting = True
        self.write(preamble_bytes())

    def rdy_step(self):
        self.booting = False
        self.urc("RDY")

    def fota_step(self, what, phase):
        def step():
            self.fota_phase = phase
            if phase == FOTA_UPDATING:
                self.updating = True    # AT interpreter goes down at START
            self.urc(fota(what))
        return step

    def end_step(self, code):
        def step():
            # Guide 4.1.3: END,x brings the module back; it must register again.
            self.fota_phase = FOTA_IDLE
            self.updating = False
            self.reset_module_state()
            self.urc(fota('"END",%d' % code))
        return step

    def update_steps(self, code):
        """From START to the end of the guide's transcript."""
        steps = [self.fota_step('"START"', FOTA_UPDATING), self.preamble_step]
        steps += [fota('"UPDATING",%d%%,1,1' % p) for p in range(20, 101)]
        steps += [self.preamble_step, self.rdy_step, "+CFUN: 1", self.end_step(code),
                  "+CPIN: READY", IP_URC]
        return steps

    def boot_steps(self):
        """A normal boot (preamble section of the task spec / guide 3.2)."""
        return [self.preamble_step, self.rdy_step, "+CFUN: 1", "+CPIN: READY", IP_URC]

    def scenario(self, name):
        coapstart = self.fota_step('"COAPSTART"', FOTA_DOWNLOADING)
        coapend0 = self.fota_step('"COAPEND",0', FOTA_DOWNLOADED)
        if name == "dfota":
            return ["+QLWOBSERVE: 0,5,0,3", coapstart, coapend0] + self.update_steps(0)
        if name == "end-fail":
            return ["+QLWOBSERVE: 0,5,0,3", coapstart, coapend0] + self.update_steps(3)
        if name == "coapend-fail":
            return [coapstart, self.fota_step('"COAPEND",5', FOTA_IDLE)]
        if name == "stall-downloading":
            return [coapstart]
        if name == "stall-downloaded":
            return [coapstart, coapend0]
        if name == "stall-updating":
            return ([coapstart, coapend0] + self.update_steps(0)[:2]
                + [fota('"UPDATING",%d%%,1,1' % p) for p in range(20, 41)])
        if name == "reboot":
            def unexpected():
                self.log_event("reboot unexpected")
                self.fota_phase = FOTA_IDLE
                self.updating = False
                self.preamble_step()
            return [unexpected, self.rdy_step, "+CFUN: 1", "+CPIN: READY"]
        return None

    def start_playback(self, name, steps, delay):
        if self.playback:
            self.playback.cancel()
        self.playback = Playback(self, name, steps, delay)

    def playback_done(self, pb):
        if self.playback is pb:
            self.playback = None

    def reboot(self, why):
        """A restart of the module (AT+QRST, RESET_N, PWRKEY)."""
        self.log_event("reboot " + why)
        if self.playback:
            self.playback.cancel()
            self.playback = None
        self.silent = False
        self.reset_module_state()
        self.booting = True
        phase = self.fota_phase
        code = 0 if self.fota_resume == "ok" else 3
        if phase == FOTA_UPDATING:
            # Guide table 2 (START/COAPEND,0 rows): after a reset the module
            # carries on and eventually prints END,x.
            if self.fota_resume == "none":
                steps = [self.preamble_step]
            else:
                steps = [self.preamble_step, self.rdy_step, "+CFUN: 1", self.end_step(code),
                         "+CPIN: READY", IP_URC]
        elif phase == FOTA_DOWNLOADED and self.fota_resume != "none":
            steps = [self.preamble_step, self.rdy_step, "+CFUN: 1"] + self.update_steps(code)
        else:
            self.fota_phase = FOTA_IDLE
            steps = self.boot_steps()
        self.start_playback("boot", steps, self.o.line_delay)

    def garbage(self, n):
        out = bytearray()
        while len(out) < n:
            kind = self.rng.randrange(4)
            if kind == 0:           # a long run without any newline
                run = bytes(self.rng.choice(b"ABCDEF0123456789+:,\"") for _ in range(300))
            elif kind == 1:
                run = bytes(self.rng.choice((0x00, 0xff, 0x0d, 0x0a)) for _ in range(8))
            else:
                run = self.rng.randbytes(32)
            out += run
        return bytes(out[:n])

    # ---- unplug ------------------------------------------------------------

    def unplug(self, seconds):
        self.log_event("unplug")
        if self.playback:
            self.playback.cancel()
            self.playback = None
        self.close_pty()
        self.forget_session()
        if seconds > 0:
            self.replug_timer = self.call_later(seconds, self.replug)

    def replug(self):
        if self.replug_timer:
            self.replug_timer.cancel()
            self.replug_timer = None
        self.open_pty()
        # A freshly booted module, as the USB adapter reappears.
        self.silent = False
        self.fota_phase = FOTA_IDLE
        self.updating = False
        self.booting = False
        self.reset_module_state()
        self.log_event("replug " + self.ttyname)
        if self.o.boot:
            self.booting = True
            self.start_playback("boot", self.boot_steps(), self.o.line_delay)

    # ---- control socket --------------------------------------------------

    def open_control(self):
        path = self.o.control
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(8)
        s.setblocking(False)
        self.ctrl = s
        self.sel.register(s, selectors.EVENT_READ, self.on_accept)

    def on_accept(self, mask):
        try:
            c, _ = self.ctrl.accept()
        except OSError:
            return
        c.setblocking(False)
        cl = CtrlClient(c)
        self.sel.register(c, selectors.EVENT_READ, lambda m: self.on_client(cl, m))

    def drop_client(self, cl):
        try:
            self.sel.unregister(cl.sock)
        except (KeyError, ValueError):
            pass
        cl.sock.close()

    def on_client(self, cl, mask):
        if mask & selectors.EVENT_WRITE:
            self.client_flush(cl)
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = cl.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop_client(cl)
            return
        cl.inbuf += data
        while True:
            i = cl.inbuf.find(b"\n")
            if i < 0:
                break
            req = bytes(cl.inbuf[:i]).decode("utf-8", "replace").strip("\r ")
            del cl.inbuf[:i + 1]
            try:
                rep = self.control(req)
            except (ValueError, IndexError) as e:
                rep = "err bad argument: %s" % e
            cl.outbuf += (rep + "\n").encode()
        if len(cl.inbuf) > MAX_CTRL_LINE:
            cl.inbuf.clear()
            cl.outbuf += b"err line too long\n"
        self.client_flush(cl)
        if self.stopping:
            # "quit": make sure the "ok" leaves before we exit.
            cl.sock.setblocking(True)
            try:
                cl.sock.sendall(bytes(cl.outbuf))
            except OSError:
                pass
            cl.outbuf.clear()

    def client_flush(self, cl):
        try:
            n = cl.sock.send(cl.outbuf) if cl.outbuf else 0
        except BlockingIOError:
            n = 0
        except OSError:
            self.drop_client(cl)
            return
        del cl.outbuf[:n]
        ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if cl.outbuf else 0)
        self.sel.modify(cl.sock, ev, lambda m: self.on_client(cl, m))

    def control(self, req):
        words = req.split()
        if not words:
            return "err empty request"
        cmd, args = words[0], words[1:]
        if cmd == "ping":
            return "ok"
        if cmd == "state":
            return "ok echo=%d registered=%d updating=%d silent=%d commands=%d" % (
                self.echo, self.registered, self.updating, self.silent, self.commands)
        if cmd == "quit":
            self.stopping = True
            return "ok"
        if cmd in ("silent", "hold-send") and len(args) == 1 and args[0] in ("on", "off"):
            on = args[0] == "on"
            self.log_event("%s %s" % (cmd, args[0]))
            if cmd == "silent":
                self.silent = on
            else:
                self.hold_send = on
                if not on and self.held:
                    self.release_held()
            return "ok"
        choices = {"send-result": ("ok", "fail", "error"),
                   "connect-result": ("ok", "fail", "none"),
                   "fota-resume": ("ok", "fail", "none")}
        if cmd in choices:
            if len(args) != 1 or args[0] not in choices[cmd]:
                return "err usage: %s %s" % (cmd, "|".join(choices[cmd]))
            setattr(self, cmd.replace("-", "_"), args[0])
            self.log_event("%s %s" % (cmd, args[0]))
            return "ok"
        if cmd == "replug":
            if self.master is not None:
                return "err not unplugged"
            self.replug()
            return "ok"
        if cmd == "unplug":
            secs = float(args[0]) if args else 0.0
            if self.master is None:
                return "err already unplugged"
            if not 0 <= secs < 1e6:     # also rejects nan and inf
                return "err bad seconds"
            self.unplug(secs)
            return "ok"
        if cmd in ("reset", "power-on"):
            if self.master is None:
                return "err unplugged"
            self.reboot(cmd)
            return "ok"
        if cmd == "downlink":
            if len(args) != 4 or not all(is_number(a) for a in args[:3]):
                return "err usage: downlink <obj> <inst> <res> <hex>"
            try:
                data = bytes.fromhex(args[3])
            except ValueError:
                return "err bad hex"
            if not data:
                return "err empty downlink"
            was_empty = not self.downlink
            self.downlink.append(data)
            self.log_event("downlink %s/%s/%s %d" % (args[0], args[1], args[2], len(data)))
            if was_empty:
                # Buffer mode: no new URC until the buffer has been drained.
                self.urc("+QLWDATARECV: %s,%s,%s,%d" % (args[0], args[1], args[2], len(data)))
            return "ok"
        if self.master is None and cmd in ("urc", "raw", "play"):
            return "err unplugged"
        if cmd == "urc":
            text = req.split(None, 1)[1] if len(words) > 1 else ""
            self.urc(text)
            return "ok"
        if cmd == "raw":
            try:
                self.write(bytes.fromhex("".join(args)))
            except ValueError:
                return "err bad hex"
            return "ok"
        if cmd == "play":
            return self.control_play(args)
        return "err unknown command"

    def control_play(self, args):
        if not args:
            return "err usage: play <scenario> [line_delay]"
        if self.playback:
            return "err busy playing " + self.playback.name
        name = args[0]
        if name == "garbage":
            if len(args) < 2 or not is_number(args[1]) or not 0 < int(args[1]) <= MAX_GARBAGE:
                return "err usage: play garbage <n>"
            self.log_event("play garbage " + args[1])
            self.write(self.garbage(int(args[1])))
            return "ok"
        delay = float(args[1]) if len(args) > 1 else self.o.line_delay
        if not 0 <= delay < 1e3:
            return "err bad line_delay"
        steps = self.scenario(name)
        if steps is None:
            return "err unknown scenario " + name
        self.log_event("play " + name)
        self.start_playback(name, steps, delay)
        return "ok"

    # ---- main loop ---------------------------------------------------------

    def on_signal(self, mask):
        try:
            os.read(self.sigr, 512)
        except OSError:
            pass

    def run(self):
        self.sigr, self.sigw = os.pipe()
        os.set_blocking(self.sigr, False)
        os.set_blocking(self.sigw, False)
        signal.set_wakeup_fd(self.sigw)

        def stop(signum, frame):
            self.stopping = True
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(self.sigr, selectors.EVENT_READ, self.on_signal)

        self.open_pty()
        if self.o.control:
            self.open_control()
        self.log_event("start %s" % self.ttyname)
        print("PTY " + self.ttyname, flush=True)
        if self.o.boot:
            self.booting = True
            self.start_playback("boot", self.boot_steps(), self.o.line_delay)
        try:
            while not self.stopping:
                for key, mask in self.sel.select(self.next_timeout()):
                    key.data(mask)
                    if self.stopping:
                        break
                self.run_timers()
        finally:
            self.cleanup()

    def cleanup(self):
        self.log_event("exit")
        self.close_pty()
        try:
            os.unlink(self.o.link)
        except OSError:
            pass
        if self.ctrl:
            self.ctrl.close()
            try:
                os.unlink(self.o.control)
            except OSError:
                pass
        if self.logf:
            self.logf.close()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Simulated Quectel BC26 on a pty (see module docstring).")
    p.add_argument("--link", required=True, help="symlink to create, pointing at the pty slave")
    p.add_argument("--control", help="Unix stream socket for the control protocol")
    p.add_argument("--log", help="append received commands and events to this file")
    p.add_argument("--imei", default="866971030399922")
    p.add_argument("--revision", default="BC26NBR01A06")
    p.add_argument("--line-delay", type=float, default=0.01, help="delay between lines of a played scenario")
    p.add_argument("--connect-delay", type=float, default=0.05, help="QLWOPEN OK -> CONNECT OK")
    p.add_argument("--send-delay", type=float, default=0.05, help="QLWDATASEND OK -> SEND OK")
    p.add_argument("--split", action="store_true", help="write output in random 1..7 byte chunks")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--autobaud", action="store_true", help="AT+IPR? reports 0 until AT+IPR=<rate> and AT&W")
    p.add_argument("--boot", action="store_true", help="print the boot preamble and RDY at start")
    return p.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    Sim(opts).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
