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
                                stall-downloaded | stall-updating | stall-updating-talking |
                                reboot | garbage <n>
  urc <text>                    emit "\\r\\n<text>\\r\\n"
  raw <hex>                     write bytes verbatim
  downlink <obj> <inst> <res> <hex>
  silent on|off                 answer no command (commands still logged)
  hold-send on|off              hold SEND OK/SEND FAIL until "hold-send off"
  send-result ok|fail|error     one-shot: what the next AT+QLWDATASEND gets (before any
                                send-results sequence, which then goes on)
  send-results <r1,r2,...>|none sticky sequence, each ok|fail|error (at most 256): consumed one
                                per accepted AT+QLWDATASEND, then back to ok; "none" clears it.
                                A new sequence replaces what is left of the old one.
  connect-result ok|fail|none   sticky: what every following AT+QLWOPEN gets
  fota-resume ok|fail|none|redownload
                                sticky: what a reset does to an interrupted upgrade
  reset | power-on              RESET_N / PWRKEY pulse: reboot whatever the state
  unplug <seconds>              close the pty; relink a new one after <seconds> (0: wait for replug)
  replug                        relink now
  state                         ok echo=<0|1> registered=<0|1> updating=<0|1> silent=<0|1> commands=<n>
                                cereg=<0..5> stat=<0..5>   (AT+CEREG=<n> stored; +CEREG <stat> now)
  quit                          ok, then exit

Faults on demand (all off by default; each request is logged as "# <cmd> <args>"):

  answer-delay <seconds>        sticky (0, or --answer-delay): every answer is written
                                <seconds> after its command was received
  late <prefix> <seconds>       one-shot: the next command starting with <prefix>
                                (case-insensitive, e.g. AT+CGSN) is answered <seconds> after
                                it was received (instead of answer-delay); up to 16 pending
  boot-slow <seconds>           sticky: after every RDY the interpreter stays down <seconds>
  preamble legible|garbled|missing
                                sticky: how the boot ROM lines (and RDY) look at every boot
  rdy on|off                    sticky: off = no RDY line (the interpreter still comes up)
  noise <p> [urc|urc...]        sticky: after every framed line written, with probability p
                                one unknown URC (default list: NOISE_URCS)
  send-delay <seconds>|default  sticky: QLWDATASEND OK -> SEND OK/FAIL (default: --send-delay)
  qlwrd-fault none|error|junk|once-error|once-junk
                                what AT+QLWRD answers (once-*: the next one only)
  stall-read on|off             on = stop reading the pty (the daemon's writes pile up)
  qrst-while-flashing ignore|obey
                                sticky: AT+QRST=1 while UPDATING (default ignore)
  midline-reboot on|off         sticky: restarts cut a line short with their preamble

Radio status (each request logged as "# <cmd> <args>"; see "Radio status" below):

  radio stat <0..5>             sticky: the registration the network gives (also what every
                                later attach ends in); prints the +CEREG URC per the stored n
                                (none if n=0), even when the stat did not change
  radio cell <tac> <ci>         tac: 4 hex digits, ci: 1..8 hex digits (printed as given,
                                uppercased: Quectel prints no leading zeros, e.g. "6923252");
                                prints the URC if n>=2 and registered (1 or 5)
  radio signal <rsrp_dbm> <rsrq_db> <rssi_dbm> <snr_db> [ecl] [earfcn] [pci] [band]
                                integers; what AT+CESQ/AT+CSQ/AT+QENG=0 report from now on
                                (fields not given keep their value; ends "radio unknown")
  radio unknown                 no serving cell measured: CESQ 99,99,255,255,255,255,
                                CSQ 99,99, QENG=0 ERROR (+CME ERROR: 30 with CMEE=1)
  radio psm on|off              sticky (off): n=4/5 forms carry Active-Time/Periodic-TAU
  radio neighbour none|<earfcn> <pci> <rsrp_dbm>
                                the "+QENG: 1,..." line after the serving cell (default one)
  cereg-max <0..5>              sticky (5): the firmware refuses AT+CEREG=<n> above it
  fota-revision <rev>           one-shot: the next END,0 installs firmware <rev> (AT+CGMR and
                                ATI answer it from then on); END,x keeps the old one

The module is serial.  An answer is the response lines plus the final result;
the echo is written when the command is interpreted.  A command is
interpreted at once, unless a delayed answer ("answer-delay", "late") is still
pending: then it waits in a queue (64 at most, more are dropped and logged) and
is interpreted (echo included) right after that answer, its own answer coming
at the later of then and <reception + its delay>.  So answers never overtake
each other.  What a command sets off (CONNECT OK, SEND OK, CLOSE OK, the
AT+QRST=1 reboot) counts from its answer.  A reboot, a reset hold and an unplug
drop the pending answer and the queue.  Commands are always logged when
received.  "silent" is checked when a command is interpreted (an answer
already pending is still written).  Pending "late" one-shots survive reboots.

- boot-slow: RDY still comes on time, but echo and answers only start
  <seconds> later (commands meanwhile: logged only).  Every boot, FOTA restarts too.
- preamble garbled: each ROM line becomes as many bytes of junk (control and
  high bytes, about one in five printable; the LF CR framing kept), and RDY
  comes as "\\r\\nRbbRDY\\r\\n" or "\\r\\n<2 junk bytes>RDY\\r\\n" (seeded RNG).
  missing: no ROM lines at all.  "rdy off" drops the RDY line either way.
- noise: after each line framed "\\r\\n...\\r\\n" (answers, lines of a multi-line
  answer, URCs; not the echo, ROM lines or raw bytes), never after a noise URC.
  The default list: +QNBIOTEVENT: "ENTER PSM" / "EXIT PSM", +CTZV: ..., +CEDRXP: ...,
  +CSCON: 0/1, +CEREG: 1, +QATSLEEP, +QATWAKEUP (NOISE_URCS).
  Logged "# noise-urc <text>".  The list argument is "|"-separated
  (e.g. "noise 1 +CSCON: 0|+CEREG: 1").  --seed makes it reproducible.
- Every SEND OK/SEND FAIL is logged when written as
  "# send-result <HEX payload of its AT+QLWDATASEND, uppercase> ok|fail".
- Every well-formed AT+QLWDATASEND is logged when interpreted as
  "# datasend <obj>/<inst>/<res> <HEX, uppercase> con|non <answer>[ <note>]":
    con OK              accepted; its "# send-result" line follows
    non OK              accepted and delivered (the manual: 0x0000 answers OK, no SEND OK)
    non OK lost         a "fail" result for a NON send: OK, but the data never arrives
    con|non ERROR       a "error" result
    con|non ERROR not-registered | con-outstanding
                        refused (no QLWOPEN/CONNECT OK, or a CON still awaits its result);
                        refused sends consume no send-result/send-results entry
  So deliveries are the "non OK" lines plus the "# send-result ... ok" lines.
  Malformed ones (+CME ERROR: 50 / ERROR) are only in the command log.
- qlwrd-fault error: AT+QLWRD=<n> answers ERROR; junk: "+QLWRD: <len>,0", an
  unknown URC, a data line with an odd number of hex digits, OK.  Both keep
  the buffer.  Only valid AT+QLWRD=<1..512> commands are affected; "none"
  also cancels a pending once-*.
- stall-read on: the pty master is not read (the kernel buffer fills and the
  daemon's write() blocks or fails with EAGAIN); off reads and interprets
  what accumulated.  Sticky across unplug/replug.
- qrst-while-flashing: ignore (what the module always did) = AT+QRST=1 while
  the upgrade is UPDATING is only logged; obey = it reboots the module (no
  echo, no answer) under the table-2 rules below.
- midline-reboot on: every restart (AT+QRST, reset, power-on, GPIO, play
  reboot, the FOTA restarts; not the --boot/replug cold start) first writes
  "+CSCON: " with no line end, then the ROM lines without their leading LF CR.
- fota-resume redownload: a reset while DOWNLOADING (e.g. after "play
  stall-downloading") boots and then downloads again (COAPSTART, COAPEND,0)
  and flashes (START ... END,0); DOWNLOADED and UPDATING resume as with ok.
- play stall-updating-talking: stall-updating, then "UPDATING,<n>%" for n =
  41..99, one per 10 line_delays, and never END; resets resume as UPDATING.

Command-line switches beyond the obvious ones:
  --answer-delay S   initial answer-delay
  --log-tx           log every line written to the pty as
                     "# tx <CLOCK_BOOTTIME seconds, 6 decimals> <text escaped like commands>"
                     (one per line or fragment of a write, at the moment it is queued for the pty;
                     CR/LF themselves are not shown)
  --gpio FILE        follow the daemon's fake GPIO log ("<boottime usec> reset|pwrkey
                     active|inactive" lines, polled every 20 ms from its start; it may appear
                     later, be recreated or truncated).  Each line is logged "# gpio <line>"
                     (a malformed one "# gpio bad line <text>").  Only level changes act:
                     reset active -> held in reset: no output at all, interpreter down, the
                     session and pending answers dropped, the FOTA phase kept; reset
                     inactive (while held) -> reboot "gpio reset"; a pwrkey pulse (the
                     active -> inactive edge) -> reboot "gpio power-on" if held in reset (that
                     also ends the hold), else reboot "gpio pwrkey".  Reboots follow the
                     table-2 rules.  Changes while unplugged are only logged.  Control
                     "reset"/"power-on" also end a hold; "urc", "raw", "play" are refused
                     while held.

Radio status (formats of the BC26 AT commands manual and 3GPP TS 27.007):

- AT+CEREG=<n> (n 0..cereg-max; empty = 0) -> OK, else ERROR (+CME ERROR: 50 with
  CMEE=1).  n is forgotten at every restart (0 after boot).  AT+CEREG=? -> "+CEREG: (0-<max>)".
- AT+CEREG? -> "+CEREG: <n>,<fields>"; URC "+CEREG: <fields>", where <fields> is
  <stat> (n=1, or not registered), <stat>,"<tac>","<ci>",9 (n>=2 and stat 1 or 5), plus
  ,,,"00100100","01000111" (n 4/5 with "radio psm on": empty cause_type/reject_cause, then
  Active-Time and Periodic-TAU).  Optional fields that are not available are left out at the
  end (27.007 "provided only if available"; what real Quectel/nRF91 lines show); reject
  causes are never given.  The URC comes on every "radio stat", on "radio cell" (n>=2,
  registered), and at the end of every boot (the attach, see below) if n>=1 by then.
  Each is logged "# urc +CEREG: ...".
- A (re)start sets stat 2 (searching) at its preamble; the boot's last step (where +IP was)
  attaches: stat becomes the "radio stat" value (default 1), the URC if n>=1, then +IP only
  if that is 1 or 5.  "play reboot" attaches silently (no +IP, as before).  The module is
  attached from the start without --boot, and after a replug.
- AT+CESQ -> "+CESQ: <rxlev>,99,255,255,<rsrq>,<rsrp>": rxlev = rssi+111 (0..63),
  rsrq = (rsrq_db+20)*2 (0..34), rsrp = rsrp_dbm+141 (0..97), each clamped (27.007 tables).
  AT+CSQ -> "+CSQ: <(rssi+113)//2 clamped 0..31>,99".  Signal and stat are independent.
- AT+QENG=0 -> '+QENG: 0,<earfcn>,2,<pci>,"<ci>",<rsrp>,<rsrq>,<rssi>,<snr>,<band>,
  "<tac>",<ecl>,90' then '+QENG: 1,<earfcn>,2,<pci>,<rsrp>' (neighbour), OK.  Defaults
  are the manual's example: +QENG: 0,2506,2,62,"6923252",-84,-10,-74,2,5,"69C9",0,90
  (so AT+CESQ gives 37,99,255,255,20,57 and AT+CSQ 19,99).  Other AT+QENG forms: ERROR.
- Like every command these are logged and counted when received, and not answered while
  the interpreter is down (flashing, booting, silent).  A "radio" change prints its URC in
  any FOTA phase, but the START restart forgets n, so from START to the attach after END
  there is none (test a URC during an upgrade while DOWNLOADING/DOWNLOADED).  The "noise"
  URC "+CEREG: 1" ignores n and stat and changes neither.
- Not confirmed in the manual (BC26 AT manual pages seen: CEREG and CESQ sections; QENG only
  through bc26-at.md): the cell ID without leading zeros, the n=4/5 field layout on BC26
  (taken from 27.007 and other modules), the QENG answer when not camped, CSQ derived from
  RSSI, and tx_pwr (fixed 90 as in the example).

Resetting an interrupted upgrade (guide section 4, table 2): a reset (control
"reset"/"power-on", --gpio, or AT+QRST=1 while the interpreter is up) while the upgrade
is DOWNLOADED makes the module boot and then run the update (START ... END);
while it is UPDATING (e.g. after "play stall-updating") makes it boot and finish
(preamble, RDY, +CFUN: 1, END, +CPIN, +IP).  "fota-resume" chooses the outcome:
ok (default) -> END,0; fail -> END,3; none -> no END ever (UPDATING: only the
preamble, interpreter stays down; DOWNLOADED: a normal boot, upgrade dropped).
A reset while DOWNLOADING aborts the download: a plain boot, no more FOTA URCs
(unless "fota-resume redownload", below).

Other choices worth knowing:
- "silent" and the FOTA "updating" phase only stop answers and echo; URCs and the
  asynchronous CONNECT/SEND/CLOSE results still arrive.
- The interpreter is also down from any restart (boot preamble) until RDY
  (plus "boot-slow"), and while RESET_N is held (--gpio).
- "unplug" forgets the session; the relinked pty is a freshly booted module
  (preamble only with --boot).  Only the AT+IPR/AT&W setting survives (NVRAM).
- "play reboot" is an unexpected restart: it also drops any FOTA phase.
- Log lines: "<CLOCK_MONOTONIC seconds, 6 decimals> <command>" (non-printable bytes
  and backslash as \\xNN) and "# <event>" ("# urc <text>" for every FOTA URC,
  "# play <scenario>", "# reboot <why>", "# unplug", "# replug <pty>", ...).
  <why> is reset, power-on, AT+QRST=1, unexpected, gpio reset, gpio power-on or
  gpio pwrkey.
"""

import argparse
import collections
import heapq
import itertools
import os
import random
import re
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
CME_NO_NETWORK = 30             # 3GPP 27.007 "no network service"
MAX_QUEUED = 64                 # commands queued behind a delayed answer
MAX_LATE = 16                   # pending "late" one-shots
GPIO_POLL = 0.02                # --gpio: seconds between looks at the file
MAX_GPIO_LINE = 4096
MAX_SEND_RESULTS = 256          # entries of one "send-results" sequence
MIDLINE_PARTIAL = b"+CSCON: "   # what "midline-reboot on" leaves unterminated
# Unknown (to bc26d) URCs "noise" and the "qlwrd-fault junk" answer pick from.
NOISE_URCS = ('+QNBIOTEVENT: "ENTER PSM"', '+QNBIOTEVENT: "EXIT PSM"',
              "+CTZV: 19/01/01,00:00:00,+32", '+CEDRXP: 5,"0101","0101","0011"',
              "+CSCON: 0", "+CSCON: 1", "+CEREG: 1", "+QATSLEEP", "+QATWAKEUP")

# Control commands: on/off switches -> attribute, choices, and delays -> attribute.
ONOFF = {"silent": "silent", "hold-send": "hold_send", "rdy": "rdy",
         "midline-reboot": "midline", "stall-read": "stall_read"}
CHOICES = {"send-result": ("ok", "fail", "error"),
           "connect-result": ("ok", "fail", "none"),
           "fota-resume": ("ok", "fail", "none", "redownload"),
           "preamble": ("legible", "garbled", "missing"),
           "qlwrd-fault": ("none", "error", "junk", "once-error", "once-junk"),
           "qrst-while-flashing": ("ignore", "obey")}
DELAYS = {"answer-delay": "answer_delay", "boot-slow": "boot_slow", "send-delay": "send_delay"}

# Radio status (see "Radio status" in the module docstring).  The defaults are the
# serving cell of the BC26 manual's AT+QENG example.
STAT_SEARCHING = 2              # +CEREG <stat> from a (re)start until the attach
REGISTERED = (1, 5)             # home, roaming
CEREG_MAX = 5
ACT_NB_S1 = 9
PSM_TIMERS = ('"00100100"', '"01000111"')  # Active-Time 4 min, Periodic-TAU 70 h (27.007 examples)
# radio signal: name, default, lowest, highest accepted
SIGNAL_FIELDS = (("rsrp", -84, -160, -20), ("rsrq", -10, -40, 10), ("rssi", -74, -150, 0),
                 ("snr", 2, -30, 50), ("ecl", 0, 0, 2), ("earfcn", 2506, 0, 262143),
                 ("pci", 62, 0, 503), ("band", 5, 1, 255))
SIGNAL_USAGE = "radio signal <rsrp_dbm> <rsrq_db> <rssi_dbm> <snr_db> [ecl] [earfcn] [pci] [band]"
EARFCN_OFFSET = 2
TX_POWER = 90
DEFAULT_TAC, DEFAULT_CI = "69C9", "6923252"
DEFAULT_NEIGHBOUR = (2506, 63, -95)        # earfcn, pci, rsrp (dBm)


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def cesq_indices(sig):
    """(rxlev, rsrq, rsrp) indices of 3GPP TS 27.007 +CESQ for integer dBm/dB values:
    rxlev n: -111+n <= rssi < -110+n (0..63); rsrq n: -20+n/2 <= rsrq < -19.5+n/2 (0..34);
    rsrp n: -141+n <= rsrp < -140+n (0..97); the ends take everything beyond them."""
    return (clamp(sig["rssi"] + 111, 0, 63), clamp((sig["rsrq"] + 20) * 2, 0, 34),
            clamp(sig["rsrp"] + 141, 0, 97))


def csq_index(rssi):
    """+CSQ <rssi>: 0 <= -113 dBm, 1 = -111, 2..30 = -109..-53 (2 dB steps), 31 >= -51."""
    return clamp((rssi + 113) // 2, 0, 31)

# FOTA phases as the guide's section 4.1 names them.
FOTA_IDLE, FOTA_DOWNLOADING, FOTA_DOWNLOADED, FOTA_UPDATING = (
    "idle", "downloading", "downloaded", "updating")


def fota(what):
    return '+QIND: "FOTA",' + what


def frame(text):
    return b"\r\n" + text.encode("latin-1", "replace") + b"\r\n"


def preamble_bytes(lines):
    # The MT2625 boot ROM frames its lines with LF CR, not CR LF.
    return b"\n\r" + b"".join(p + b"\n\r" for p in lines)


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


def seconds_arg(text):
    """A delay argument: a float in [0, 1e6) (also rejects nan and inf), else None."""
    try:
        v = float(text)
    except ValueError:
        return None
    return v if 0 <= v < 1e6 else None


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


class Wait:
    """A playback step that only makes the next step come `seconds` later
    (instead of one line_delay)."""
    __slots__ = ("seconds",)

    def __init__(self, seconds):
        self.seconds = seconds


class Playback:
    """A list of steps run one per line_delay.  A step is a str (emitted as a
    framed line), a callable (an action that may also write) or a Wait."""

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
        delay = self.delay
        if isinstance(item, Wait):
            delay = item.seconds
        elif callable(item):
            item()
        else:
            self.sim.urc(item)
        if self.sim.playback is not self:
            return          # the step rebooted or unplugged the module
        if self.pos >= len(self.steps):
            self.sim.playback_done(self)
        else:
            self.timer = self.sim.call_later(delay, self.step)

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
        self.send_result = None         # one-shot "send-result"; None: none pending
        self.send_results = collections.deque()     # sticky "send-results" sequence
        self.connect_result = "ok"
        self.fota_resume = "ok"
        # Sticky misbehaviour switches (module docstring, "Faults on demand").
        self.answer_delay = max(0.0, opts.answer_delay)
        self.lates = []         # [(PREFIX, seconds)]: "late" one-shots, in order given
        self.boot_slow = 0.0
        self.preamble = "legible"
        self.rdy = True
        self.noise_p = 0.0
        self.noise_urcs = NOISE_URCS
        self.send_delay = None  # None: --send-delay
        self.qlwrd_fault = "none"
        self.qlwrd_once = None
        self.stall_read = False
        self.qrst_while_flashing = "ignore"
        self.midline = False
        # The serial answer pipeline: while a delayed answer is pending, the
        # commands that arrive wait (already logged) in cmd_queue.
        self.answer_timer = None
        self.cmd_queue = collections.deque()
        self.follow = []        # actions of the command being interpreted, run after its answer
        # RESET_N / PWRKEY as the daemon drives them (--gpio).
        self.in_reset = False
        self.gpio_level = {"reset": False, "pwrkey": False}
        self.gpio_ino = None
        self.gpio_off = 0
        self.gpio_partial = b""
        # Survives reboots (AT&W writes NVRAM).
        self.ipr_pending = None
        self.ipr_saved = None
        self.fota_phase = FOTA_IDLE
        self.updating = False
        self.booting = False    # interpreter down from a (re)start until RDY (+ boot-slow)
        self.boot_timer = None
        # Radio status: the network's side survives reboots ("radio ..." controls).
        self.net_stat = 1       # what an attach ends in ("radio stat")
        self.stat = self.net_stat
        self.tac, self.ci = DEFAULT_TAC, DEFAULT_CI
        self.signal = {name: default for name, default, _, _ in SIGNAL_FIELDS}
        self.signal_known = True
        self.neighbour = DEFAULT_NEIGHBOUR
        self.psm = False
        self.cereg_max = CEREG_MAX  # sticky "firmware" limit ("cereg-max")
        self.next_revision = None   # what a successful END installs ("fota-revision")
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
        """What a boot forgets: echo, CMEE, LwM2M context and session, and
        any answer not written yet."""
        self.echo = True
        self.cmee = 0
        self.cereg_n = 0        # AT+CEREG=<n> is not kept across a restart
        self.serv = None
        self.conf = None
        self.objs = []
        self.drop_answers()
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
        return not (self.updating or self.booting or self.in_reset or self.master is None)

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
        self.want_write = False
        self.read_paused = False
        self.update_events()

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
        self.drop_answers()

    def update_events(self):
        if self.master is None:
            return
        ev = 0 if self.read_paused or self.stall_read else selectors.EVENT_READ
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
        if self.master is None or not data or self.in_reset:
            return
        if self.o.log_tx:
            self.log_tx(data)
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

    def log_tx(self, data):
        """--log-tx: one "# tx" line per line (or line fragment) in data."""
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
        for piece in re.split(rb"[\r\n]+", bytes(data)):
            if piece:
                self.log("# tx %.6f %s" % (now, escape(piece)))

    def line(self, text):
        self.write(frame(text))
        if self.noise_p > 0 and self.rng.random() < self.noise_p:
            noise = self.rng.choice(self.noise_urcs)
            self.log_event("noise-urc " + noise)
            self.write(frame(noise))

    def urc(self, text):
        if text.startswith('+QIND: "FOTA"'):
            self.log_event("urc " + text)
        self.line(text)

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
        """A command line arrived: log it, then interpret it now, or after the
        answer still pending (the module is serial)."""
        self.commands += 1
        now = time.monotonic()
        self.log("%.6f %s" % (now, escape(raw)))
        if self.answer_timer is None:
            self.run_command(now, raw)
        elif len(self.cmd_queue) < MAX_QUEUED:
            self.cmd_queue.append((now, raw))
        else:
            self.log_event("dropped a command queued behind a delayed answer")

    def run_command(self, received, raw):
        text = raw.decode("latin-1").strip()
        if not self.interpreter_up() or self.silent:
            if self.updating and not self.silent and self.master is not None \
                    and not self.in_reset and self.qrst_while_flashing == "obey" \
                    and text.upper() == "AT+QRST=1":
                self.reboot("AT+QRST=1")
            return
        if self.echo:
            self.write(raw + b"\r")
        self.follow = []
        try:
            res = self.interpret(text)
        except Exception as e:      # odd input must never take the module down
            self.log_event("internal error on %s: %r" % (escape(raw), e))
            res = ["ERROR"]
            self.follow = []
        lines, follow, self.follow = res or [], self.follow, []
        left = received + self.delay_for(text) - time.monotonic()
        if left <= 0:
            self.deliver(lines, follow)
        else:
            self.answer_timer = self.call_later(left, lambda: self.answer_due(lines, follow))

    def after_answer(self, fn):
        """Run fn once the answer of the command being interpreted is written."""
        self.follow.append(fn)

    def delay_for(self, text):
        """How long after its reception this command's answer is written."""
        up = text.upper()
        for i, (prefix, secs) in enumerate(self.lates):
            if up.startswith(prefix):
                del self.lates[i]
                return secs
        return self.answer_delay

    def deliver(self, lines, follow):
        for ln in lines:
            self.line(ln)
        for fn in follow:
            fn()

    def answer_due(self, lines, follow):
        self.answer_timer = None
        self.deliver(lines, follow)
        while self.cmd_queue and self.answer_timer is None:
            self.run_command(*self.cmd_queue.popleft())

    def drop_answers(self):
        if self.answer_timer:
            self.answer_timer.cancel()
            self.answer_timer = None
        self.cmd_queue.clear()

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

    # ---- radio status ------------------------------------------------------

    def cereg_fields(self, n):
        """<stat> and what mode n adds to it (module docstring, "Radio status")."""
        text = "%d" % self.stat
        if n >= 2 and self.stat in REGISTERED:
            text += ',"%s","%s",%d' % (self.tac, self.ci, ACT_NB_S1)
            if n >= 4 and self.psm:
                text += ",,,%s,%s" % PSM_TIMERS
        return text

    def cereg_urc(self, cell_change=False):
        """The +CEREG URC of a registration (or, cell_change, a cell) change, per the stored n."""
        if self.cereg_n == 0 or (cell_change and (self.cereg_n < 2 or self.stat not in REGISTERED)):
            return
        if self.master is None or self.in_reset:
            return          # nothing leaves the module (and n is forgotten at the next boot)
        text = "+CEREG: " + self.cereg_fields(self.cereg_n)
        self.log_event("urc " + text)
        self.urc(text)

    def attach_step(self, ip=True):
        """The end of a boot: the module attaches with what "radio stat" says (+CEREG URC
        if AT+CEREG=<n> was sent since), and prints +IP if that is a registration."""
        self.stat = self.net_stat
        self.cereg_urc()
        if ip and self.stat in REGISTERED:
            self.urc(IP_URC)

    def at_cereg(self, kind, args):
        if kind == "read":
            return ["+CEREG: %d,%s" % (self.cereg_n, self.cereg_fields(self.cereg_n)), "OK"]
        if kind == "test":
            return ["+CEREG: (0-%d)" % self.cereg_max, "OK"]
        if kind == "set" and len(args) == 1:
            n = 0 if args[0] == ("", False) else to_int(args[0], 0, self.cereg_max)
            if n is not None:
                self.cereg_n = n
                return ["OK"]
        return self.error(CME_INCORRECT_PARAMS)

    def at_cesq(self, kind, args):
        if kind == "test":
            return ["+CESQ: (0-63,99),(0-7,99),(255),(255),(0-34,255),(0-97,255)", "OK"]
        if kind != "exec":
            return self.error(CME_INCORRECT_PARAMS)
        if not self.signal_known:
            return ["+CESQ: 99,99,255,255,255,255", "OK"]
        return ["+CESQ: %d,99,255,255,%d,%d" % cesq_indices(self.signal), "OK"]

    def at_csq(self, kind, args):
        if kind == "test":
            return ["+CSQ: (0-31,99),(0-7,99)", "OK"]
        if kind != "exec":
            return self.error(CME_INCORRECT_PARAMS)
        return ["+CSQ: %d,99" % (csq_index(self.signal["rssi"]) if self.signal_known else 99), "OK"]

    def at_qeng(self, kind, args):
        if kind != "set" or len(args) != 1 or to_int(args[0], 0, 0) != 0:
            return self.error(CME_INCORRECT_PARAMS)
        if not self.signal_known:
            return self.error(CME_NO_NETWORK)
        g = self.signal
        lines = ['+QENG: 0,%d,%d,%d,"%s",%d,%d,%d,%d,%d,"%s",%d,%d' % (
            g["earfcn"], EARFCN_OFFSET, g["pci"], self.ci, g["rsrp"], g["rsrq"], g["rssi"],
            g["snr"], g["band"], self.tac, g["ecl"], TX_POWER)]
        if self.neighbour:
            earfcn, pci, rsrp = self.neighbour
            lines.append("+QENG: 1,%d,%d,%d,%d" % (earfcn, EARFCN_OFFSET, pci, rsrp))
        return lines + ["OK"]

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
            self.after_answer(lambda: self.session_later(self.o.connect_delay, self.connect_done))
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
        what = "%d/%d/%d %s %s" % (ids[0], ids[1], ids[2], data.upper(),
                                   "con" if mode == "0x0100" else "non")
        if not self.registered or self.con_outstanding:
            # The module refuses a second CON while one awaits its result.
            self.log_event("datasend %s ERROR %s" % (
                what, "not-registered" if not self.registered else "con-outstanding"))
            return ["ERROR"]
        result = self.next_send_result()
        if result == "error":
            self.log_event("datasend %s ERROR" % what)
            return ["ERROR"]
        if mode == "0x0100":
            self.con_outstanding = True
            res = ("SEND OK" if result == "ok" else "SEND FAIL", data.upper())
            self.after_answer(lambda: self.session_later(
                self.o.send_delay if self.send_delay is None else self.send_delay,
                lambda: self.send_done(res)))
        # NON (0x0000): OK only, never SEND OK/FAIL (LwM2M manual 3.8); a "fail" is a silent loss.
        self.log_event("datasend %s OK%s" % (what, " lost" if mode == "0x0000" and result == "fail" else ""))
        return ["OK"]

    def next_send_result(self):
        """The one-shot send-result if set, else the next of the send-results sequence, else ok."""
        if self.send_result is not None:
            result, self.send_result = self.send_result, None
            return result
        if self.send_results:
            return self.send_results.popleft()
        return "ok"

    def send_done(self, res):
        if self.hold_send:
            self.held.append(res)
            return
        self.con_outstanding = False
        self.send_out(res)

    def send_out(self, res):
        text, payload = res
        self.log_event("send-result %s %s" % (payload, "ok" if text == "SEND OK" else "fail"))
        self.urc(text)

    def release_held(self):
        if not self.held or self.hold_send:
            return
        self.send_out(self.held.pop(0))
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
        fault, self.qlwrd_once = self.qlwrd_once or self.qlwrd_fault, None
        if fault == "error":
            return ["ERROR"]
        if fault == "junk":
            # Buffer kept; the data line has an odd number of hex digits.
            head = self.downlink[0][:n] if self.downlink else b"\x00"
            return ["+QLWRD: %d,0" % len(head), self.rng.choice(NOISE_URCS),
                    head.hex().upper()[:-1], "OK"]
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
        self.after_answer(lambda: self.session_later(self.o.line_delay, lambda: self.urc("CLOSE OK")))
        return ["OK"]

    def at_qlwdel(self, kind, args):
        if kind != "exec":
            return ["ERROR"]
        self.forget_session()
        self.serv = self.conf = None
        self.objs = []
        return ["OK"]

    def at_qrst(self, kind, args):
        if kind == "set" and len(args) == 1 and to_int(args[0], 1, 1) == 1:
            self.after_answer(lambda: self.reboot("AT+QRST=1"))
            return None     # reboots at once: no OK
        return ["ERROR"]

    # ---- boots and scenarios ---------------------------------------------

    def preamble_step(self, restart=True):
        # The module restarted: whatever it knew about the session is gone,
        # and it answers nothing until RDY.  restart=False: a cold start (sim
        # start, replug), where "midline-reboot" has no line to cut.
        self.reset_module_state()
        self.cancel_boot_timer()
        self.booting = True
        self.stat = STAT_SEARCHING
        data = self.preamble_out()
        if self.midline and restart:
            self.write(MIDLINE_PARTIAL)
            data = data[2:]     # no line end before the first ROM line
        self.write(data)

    def preamble_out(self):
        if self.preamble == "missing":
            return b""
        if self.preamble == "garbled":
            return preamble_bytes([self.junk(len(p)) for p in PREAMBLE])
        return preamble_bytes([p.encode() for p in PREAMBLE])

    def junk(self, n):
        """What a line looks like at the wrong baud rate: mostly control and high
        bytes, a few printable ones, never CR or LF."""
        out = bytearray()
        for _ in range(n):
            if self.rng.random() < 0.2:
                out.append(self.rng.randrange(0x21, 0x7f))
            else:
                out.append(self.rng.choice((self.rng.randrange(0x80, 0x100),
                                            self.rng.choice((0x00, 0x01, 0x07, 0x1b, 0x1f)))))
        return bytes(out)

    def rdy_step(self):
        if self.rdy and self.preamble == "garbled":
            prefix = self.rng.choice((b"Rbb", self.junk(2)))
            self.write(b"\r\n" + prefix + b"RDY\r\n")
        elif self.rdy:
            self.urc("RDY")
        if self.boot_slow > 0:
            self.boot_timer = self.call_later(self.boot_slow, self.boot_done)
        else:
            self.booting = False

    def boot_done(self):
        self.boot_timer = None
        self.booting = False

    def cancel_boot_timer(self):
        if self.boot_timer:
            self.boot_timer.cancel()
            self.boot_timer = None

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
            if code == 0 and self.next_revision:
                # The delta package flashed: AT+CGMR/ATI show the new firmware from now on.
                self.o.revision, self.next_revision = self.next_revision, None
                self.log_event("revision " + self.o.revision)
            self.urc(fota('"END",%d' % code))
        return step

    def update_steps(self, code):
        """From START to the end of the guide's transcript."""
        steps = [self.fota_step('"START"', FOTA_UPDATING), self.preamble_step]
        steps += [fota('"UPDATING",%d%%,1,1' % p) for p in range(20, 101)]
        steps += [self.preamble_step, self.rdy_step, "+CFUN: 1", self.end_step(code),
                  "+CPIN: READY", self.attach_step]
        return steps

    def boot_steps(self, cold=False):
        """A normal boot (preamble section of the task spec / guide 3.2)."""
        first = (lambda: self.preamble_step(restart=False)) if cold else self.preamble_step
        return [first, self.rdy_step, "+CFUN: 1", "+CPIN: READY", self.attach_step]

    def download_steps(self):
        return [self.fota_step('"COAPSTART"', FOTA_DOWNLOADING),
                self.fota_step('"COAPEND",0', FOTA_DOWNLOADED)]

    def scenario(self, name, delay):
        coapstart, coapend0 = self.download_steps()
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
        if name in ("stall-updating", "stall-updating-talking"):
            steps = ([coapstart, coapend0] + self.update_steps(0)[:2]
                     + [fota('"UPDATING",%d%%,1,1' % p) for p in range(20, 41)])
            if name == "stall-updating-talking":
                # Still flashing, slowly: one progress line per 10 line_delays, never END.
                for p in range(41, 100):
                    steps += [Wait(9 * delay), fota('"UPDATING",%d%%,1,1' % p)]
            return steps
        if name == "reboot":
            def unexpected():
                self.log_event("reboot unexpected")
                self.fota_phase = FOTA_IDLE
                self.updating = False
                self.preamble_step()
            def cpin_attach():      # no extra step: the playback ends when it did before
                self.urc("+CPIN: READY")
                self.attach_step(ip=False)
            return [unexpected, self.rdy_step, "+CFUN: 1", cpin_attach]
        return None

    def start_playback(self, name, steps, delay):
        if self.playback:
            self.playback.cancel()
        self.playback = Playback(self, name, steps, delay)

    def playback_done(self, pb):
        if self.playback is pb:
            self.playback = None

    def stop_playback(self):
        if self.playback:
            self.playback.cancel()
            self.playback = None

    def reboot(self, why):
        """A restart of the module (AT+QRST, RESET_N, PWRKEY)."""
        self.log_event("reboot " + why)
        self.stop_playback()
        self.silent = False
        self.in_reset = False
        self.reset_module_state()
        self.cancel_boot_timer()
        self.booting = True
        phase = self.fota_phase
        code = 3 if self.fota_resume == "fail" else 0
        if phase == FOTA_UPDATING:
            # Guide table 2 (START/COAPEND,0 rows): after a reset the module
            # carries on and eventually prints END,x.
            if self.fota_resume == "none":
                steps = [self.preamble_step]
            else:
                steps = [self.preamble_step, self.rdy_step, "+CFUN: 1", self.end_step(code),
                         "+CPIN: READY", self.attach_step]
        elif phase == FOTA_DOWNLOADED and self.fota_resume != "none":
            steps = [self.preamble_step, self.rdy_step, "+CFUN: 1"] + self.update_steps(code)
        elif phase == FOTA_DOWNLOADING and self.fota_resume == "redownload":
            # The COAPSTART repeat path: boot, fetch the package again, flash it.
            steps = self.boot_steps() + self.download_steps() + self.update_steps(0)
        else:
            self.fota_phase = FOTA_IDLE
            steps = self.boot_steps()
        self.start_playback("boot", steps, self.o.line_delay)

    def hold_in_reset(self):
        """RESET_N held active: the module is silent and deaf until released.
        The FOTA phase is kept: the release follows the table-2 rules."""
        self.stop_playback()
        self.reset_module_state()
        self.cancel_boot_timer()
        self.in_reset = True
        self.stat = STAT_SEARCHING
        self.outbuf.clear()
        if self.out_timer:
            self.out_timer.cancel()
            self.out_timer = None

    # ---- --gpio: the daemon's fake GPIO log ----------------------------------

    def gpio_poll(self):
        self.call_later(GPIO_POLL, self.gpio_poll)
        try:
            st = os.stat(self.o.gpio)
        except OSError:
            return          # not created yet (or gone): nothing driven
        if st.st_ino != self.gpio_ino or st.st_size < self.gpio_off:
            self.gpio_ino, self.gpio_off, self.gpio_partial = st.st_ino, 0, b""
        if st.st_size == self.gpio_off:
            return
        try:
            with open(self.o.gpio, "rb") as f:
                f.seek(self.gpio_off)
                data = f.read(1 << 16)
        except OSError:
            return
        self.gpio_off += len(data)
        *lines, self.gpio_partial = (self.gpio_partial + data).split(b"\n")
        if len(self.gpio_partial) > MAX_GPIO_LINE:
            self.gpio_partial = b""
        for ln in lines:
            self.gpio_line(ln.decode("latin-1").strip())

    def gpio_line(self, text):
        parts = text.split()
        if (len(parts) != 3 or not is_number(parts[0]) or parts[1] not in self.gpio_level
                or parts[2] not in ("active", "inactive")):
            if text:
                self.log_event("gpio bad line " + escape(text.encode("latin-1")))
            return
        self.log_event("gpio " + " ".join(parts))
        name, active = parts[1], parts[2] == "active"
        was, self.gpio_level[name] = self.gpio_level[name], active
        if self.master is None or was == active:
            return          # unplugged, or no edge
        if name == "reset" and active:
            self.hold_in_reset()
        elif name == "reset" and self.in_reset:
            self.reboot("gpio reset")
        elif name == "pwrkey" and not active:
            self.reboot("gpio power-on" if self.in_reset else "gpio pwrkey")

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
        self.stop_playback()
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
        self.in_reset = False
        self.cancel_boot_timer()
        self.reset_module_state()
        self.stat = self.net_stat       # booted and attached while unplugged (--boot: below)
        self.log_event("replug " + self.ttyname)
        if self.o.boot:
            self.booting = True
            self.start_playback("boot", self.boot_steps(cold=True), self.o.line_delay)

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
            return "ok echo=%d registered=%d updating=%d silent=%d commands=%d cereg=%d stat=%d" % (
                self.echo, self.registered, self.updating, self.silent, self.commands,
                self.cereg_n, self.stat)
        if cmd == "quit":
            self.stopping = True
            return "ok"
        if cmd in ONOFF and len(args) == 1 and args[0] in ("on", "off"):
            self.log_event("%s %s" % (cmd, args[0]))
            setattr(self, ONOFF[cmd], args[0] == "on")
            if cmd == "hold-send" and not self.hold_send and self.held:
                self.release_held()
            elif cmd == "stall-read":
                self.update_events()
            return "ok"
        if cmd in CHOICES:
            if len(args) != 1 or args[0] not in CHOICES[cmd]:
                return "err usage: %s %s" % (cmd, "|".join(CHOICES[cmd]))
            self.log_event("%s %s" % (cmd, args[0]))
            if cmd == "qlwrd-fault" and args[0].startswith("once-"):
                self.qlwrd_once = args[0][len("once-"):]
            elif cmd == "qlwrd-fault":
                self.qlwrd_fault, self.qlwrd_once = args[0], None
            else:
                setattr(self, cmd.replace("-", "_"), args[0])
            return "ok"
        if cmd in DELAYS:
            if len(args) != 1:
                return "err usage: %s <seconds>%s" % (cmd, "|default" if cmd == "send-delay" else "")
            if cmd == "send-delay" and args[0] == "default":
                secs = None
            else:
                secs = seconds_arg(args[0])
                if secs is None:
                    return "err bad seconds"
            self.log_event("%s %s" % (cmd, args[0]))
            setattr(self, DELAYS[cmd], secs)
            return "ok"
        if cmd == "send-results":
            return self.control_send_results(args)
        if cmd == "late":
            return self.control_late(args)
        if cmd == "radio":
            return self.control_radio(args)
        if cmd == "fota-revision":
            if len(args) != 1 or not re.fullmatch(r"[\x21-\x7e]{1,63}", args[0]):
                return "err usage: fota-revision <revision: 1..63 printable characters, no spaces>"
            self.log_event("fota-revision " + args[0])
            self.next_revision = args[0]
            return "ok"
        if cmd == "cereg-max":
            if len(args) != 1 or to_int((args[0], False), 0, CEREG_MAX) is None:
                return "err usage: cereg-max <0..5>"
            self.log_event("cereg-max " + args[0])
            self.cereg_max = int(args[0])
            return "ok"
        if cmd == "noise":
            return self.control_noise(req)
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
        if self.in_reset and cmd in ("urc", "raw", "play"):
            return "err held in reset"
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

    def control_send_results(self, args):
        usage = "err usage: send-results <ok|fail|error>[,...] (at most %d) | none" % MAX_SEND_RESULTS
        if len(args) != 1:
            return usage
        if args[0] == "none":
            seq = []
        else:
            seq = args[0].split(",")
            if len(seq) > MAX_SEND_RESULTS or any(r not in CHOICES["send-result"] for r in seq):
                return usage
        self.log_event("send-results %s" % args[0])
        self.send_results = collections.deque(seq)
        return "ok"

    def control_late(self, args):
        if len(args) != 2:
            return "err usage: late <prefix> <seconds>"
        secs = seconds_arg(args[1])
        if secs is None:
            return "err bad seconds"
        if len(self.lates) >= MAX_LATE:
            return "err too many pending late answers"
        self.log_event("late %s %s" % (args[0], args[1]))
        self.lates.append((args[0].upper(), secs))
        return "ok"

    def control_radio(self, args):
        sub, rest = (args[0], args[1:]) if args else ("", [])
        if sub == "stat":
            if len(rest) != 1 or to_int((rest[0], False), 0, 5) is None:
                return "err usage: radio stat <0..5>"
            self.log_event("radio stat " + rest[0])
            self.net_stat = self.stat = int(rest[0])
            self.cereg_urc()
            return "ok"
        if sub == "cell":
            if (len(rest) != 2 or not re.fullmatch(r"[0-9A-Fa-f]{4}", rest[0])
                    or not re.fullmatch(r"[0-9A-Fa-f]{1,8}", rest[1])):
                return "err usage: radio cell <tac: 4 hex digits> <ci: 1..8 hex digits>"
            self.log_event("radio cell %s %s" % (rest[0], rest[1]))
            self.tac, self.ci = rest[0].upper(), rest[1].upper()
            self.cereg_urc(cell_change=True)
            return "ok"
        if sub == "signal":
            if not 4 <= len(rest) <= len(SIGNAL_FIELDS):
                return "err usage: " + SIGNAL_USAGE
            new = dict(self.signal)
            for text, (name, _, lo, hi) in zip(rest, SIGNAL_FIELDS):
                if not re.fullmatch(r"-?[0-9]{1,6}", text) or not lo <= int(text) <= hi:
                    return "err bad %s %s (%d..%d)" % (name, text, lo, hi)
                new[name] = int(text)
            self.log_event("radio signal " + " ".join(rest))
            self.signal, self.signal_known = new, True
            return "ok"
        if sub == "unknown" and not rest:
            self.log_event("radio unknown")
            self.signal_known = False
            return "ok"
        if sub == "psm" and rest in (["on"], ["off"]):
            self.log_event("radio psm " + rest[0])
            self.psm = rest[0] == "on"
            return "ok"
        if sub == "neighbour":
            if rest == ["none"]:
                self.neighbour = None
            elif (len(rest) == 3 and all(re.fullmatch(r"-?[0-9]{1,6}", x) for x in rest)
                    and 0 <= int(rest[0]) <= 262143 and 0 <= int(rest[1]) <= 503
                    and -160 <= int(rest[2]) <= -20):
                self.neighbour = tuple(int(x) for x in rest)
            else:
                return "err usage: radio neighbour none|<earfcn> <pci> <rsrp_dbm>"
            self.log_event("radio neighbour " + " ".join(rest))
            return "ok"
        return ("err usage: radio stat|cell|signal|unknown|psm|neighbour ... "
                "(radio stat <0..5>, radio cell <tac> <ci>, %s, radio unknown, radio psm on|off, "
                "radio neighbour none|<earfcn> <pci> <rsrp_dbm>)" % SIGNAL_USAGE)

    def control_noise(self, req):
        words = req.split(None, 2)
        if len(words) < 2:
            return "err usage: noise <p> [urc|urc...]"
        try:
            p = float(words[1])
        except ValueError:
            p = -1.0
        if not 0 <= p <= 1:
            return "err bad probability"
        urcs = NOISE_URCS
        if len(words) > 2:
            urcs = tuple(u.strip() for u in words[2].split("|") if u.strip())
            if not urcs:
                return "err empty urc list"
        self.log_event(" ".join(words))
        self.noise_p, self.noise_urcs = p, urcs
        return "ok"

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
        steps = self.scenario(name, delay)
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
        if self.o.gpio:
            self.gpio_poll()
        if self.o.boot:
            self.booting = True
            self.start_playback("boot", self.boot_steps(cold=True), self.o.line_delay)
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
    p.add_argument("--answer-delay", type=float, default=0.0, metavar="S",
                   help='initial "answer-delay": answers come S seconds after their command')
    p.add_argument("--gpio", metavar="FILE", help="follow the daemon's fake GPIO log (RESET_N, PWRKEY)")
    p.add_argument("--log-tx", action="store_true", help='also log every line written to the pty ("# tx")')
    return p.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    Sim(opts).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
