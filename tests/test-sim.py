#!/usr/bin/env python3
# test-sim.py: self-test of tests/bc26sim.py (the simulated BC26), stdlib unittest only.
# Talks to the simulator exactly as bc26d does: through the linked pty and the control socket.
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
import unittest

SIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bc26sim.py")
FAST = ["--line-delay", "0.002", "--connect-delay", "0.02", "--send-delay", "0.02"]
PREAMBLE = [b"F1: 0000 0000", b"V0: 0000 0000 [0001]", b"00: 0006 000C", b"01: 0000 0000",
            b"U0: 0000 0001 [0000]", b"T0: 0000 00B4", b"Leaving the BROM"]
PREAMBLE_BYTES = b"\n\r" + b"".join(p + b"\n\r" for p in PREAMBLE)
REGISTER = ['AT+QLWSERV="180.101.147.115",5683', 'AT+QLWCONF="866971030399922"',
            'AT+QLWADDOBJ=19,0,0,"0"', 'AT+QLWADDOBJ=19,1,0,"0"']


def raw_mode(fd):
    """cfmakeraw() on the daemon's side; TCSANOW so queued input survives."""
    a = termios.tcgetattr(fd)
    a[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP |
              termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    a[1] &= ~termios.OPOST
    a[2] &= ~(termios.CSIZE | termios.PARENB)
    a[2] |= termios.CS8
    a[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    termios.tcsetattr(fd, termios.TCSANOW, a)


def lines_of(data):
    """Module output split into its non-empty lines (CR LF and the ROM's LF CR alike)."""
    return [x for x in re.split(rb"[\r\n]+", data) if x]


class Sim:
    def __init__(self, tmp, *extra):
        self.tmp = tmp
        self.link = os.path.join(tmp, "ttyBC26")
        self.ctlpath = os.path.join(tmp, "ctl")
        self.logpath = os.path.join(tmp, "log")
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--link", self.link, "--control", self.ctlpath,
             "--log", self.logpath] + FAST + list(extra),
            stdout=subprocess.PIPE)
        first = self.proc.stdout.readline().decode()
        m = re.fullmatch(r"PTY (/dev/pts/\d+)\n", first)
        if not m:
            raise AssertionError("bad first line %r" % first)
        self.pty = m.group(1)
        self.fd = None
        self.buf = b""
        self.ctl = None
        self.ctlbuf = b""
        self.open_port()

    def open_port(self):
        if self.fd is not None:
            os.close(self.fd)
        self.fd = os.open(self.link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        raw_mode(self.fd)
        self.buf = b""

    def send(self, text):
        os.write(self.fd, text.encode("latin-1") + b"\r")

    def pump(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            self.buf += os.read(self.fd, 65536)

    def read_until(self, token, timeout=3.0):
        """Everything received up to and including token; fails on timeout."""
        end = time.monotonic() + timeout
        while token not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("timeout waiting for %r, got %r" % (token, self.buf[-400:]))
            self.pump(left)
        i = self.buf.index(token) + len(token)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def drain(self, quiet=0.1):
        """Everything received until the line stays quiet for `quiet` seconds."""
        while True:
            n = len(self.buf)
            self.pump(quiet)
            if len(self.buf) == n:
                out, self.buf = self.buf, b""
                return out

    def at(self, cmd, timeout=3.0):
        """Send a command and return its output up to the final result code."""
        self.send(cmd)
        end = time.monotonic() + timeout
        pat = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: \d+)\r\n")
        while not pat.search(self.buf):
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no final result for %s, got %r" % (cmd, self.buf))
            self.pump(left)
        m = pat.search(self.buf)
        out, self.buf = self.buf[:m.end()], self.buf[m.end():]
        return out

    def control(self, req):
        if self.ctl is None:
            self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.ctl.settimeout(5)
            self.ctl.connect(self.ctlpath)
        self.ctl.sendall(req.encode() + b"\n")
        while b"\n" not in self.ctlbuf:
            chunk = self.ctl.recv(4096)
            if not chunk:
                raise AssertionError("control socket closed")
            self.ctlbuf += chunk
        line, self.ctlbuf = self.ctlbuf.split(b"\n", 1)
        return line.decode()

    def state(self):
        rep = self.control("state")
        m = re.fullmatch(r"ok echo=([01]) registered=([01]) updating=([01]) silent=([01]) commands=(\d+)"
                         r" cereg=([0-5]) stat=([0-5])", rep)
        if not m:
            raise AssertionError("bad state reply %r" % rep)
        keys = ("echo", "registered", "updating", "silent", "commands", "cereg", "stat")
        return dict(zip(keys, map(int, m.groups())))

    def register(self):
        for c in REGISTER:
            assert self.at(c).endswith(b"\r\nOK\r\n"), c
        assert self.at("AT+QLWOPEN=1").endswith(b"\r\nOK\r\n")
        self.read_until(b"\r\n+QLWOBSERVE: 0,5,0,3\r\n")

    def log(self):
        with open(self.logpath, encoding="utf-8") as f:
            return f.read().splitlines()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(5)
        self.proc.stdout.close()
        if self.ctl:
            self.ctl.close()
        if self.fd is not None:
            os.close(self.fd)


class SimTest(unittest.TestCase):
    extra = ()

    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory()
        self.sim = Sim(self.tmpdir.name, *self.args(self.tmpdir.name))

    def args(self, tmp):
        """The simulator's extra command-line arguments."""
        return self.extra

    def tearDown(self):
        self.sim.close()
        self.assertEqual(self.sim.proc.returncode, 0)
        self.tmpdir.cleanup()


class Basics(SimTest):
    def test_echo_then_ate0(self):
        s = self.sim
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")
        self.assertEqual(s.at("ATE0"), b"ATE0\r\r\nOK\r\n")
        self.assertEqual(s.at("AT"), b"\r\nOK\r\n")
        self.assertEqual(s.state()["echo"], 0)
        self.assertEqual(s.at("ATE1"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")

    def test_identity(self):
        s = self.sim
        s.at("ATE0")
        self.assertEqual(lines_of(s.at("ATI")),
                         [b"Quectel_Ltd", b"Quectel_BC26", b"Revision: BC26NBR01A06", b"OK"])
        self.assertEqual(s.at("AT+CGSN=1"), b"\r\n+CGSN: 866971030399922\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+CGMR"), b"\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+IPR?"), b"\r\n+IPR: 115200\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+CMEE=1"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+QSCLK=0"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+NOSUCH"), b"\r\nERROR\r\n")
        self.assertEqual(s.at("hello"), b"\r\nERROR\r\n")

    def test_input_line_endings_and_junk(self):
        s = self.sim
        os.write(s.fd, b"ATE0\r\nAT\nAT\r")
        self.assertEqual(s.read_until(b"OK\r\n"), b"ATE0\r\r\nOK\r\n")
        self.assertEqual(s.read_until(b"OK\r\n"), b"\r\nOK\r\n")
        self.assertEqual(s.read_until(b"OK\r\n"), b"\r\nOK\r\n")
        os.write(s.fd, b"\xff\xfe\x00AT\x80\r")         # not UTF-8: an unknown command
        self.assertEqual(s.read_until(b"ERROR\r\n"), b"\r\nERROR\r\n")
        os.write(s.fd, b"A" * 5000 + b"\r")            # over the 4096 cap: discarded silently
        self.assertEqual(s.at("AT"), b"\r\nOK\r\n")
        log = s.log()
        self.assertEqual([ln.split(" ", 1)[1] for ln in log if not ln.startswith("# ")][3],
                         r"\xff\xfe\x00AT\x80")
        self.assertEqual(s.state()["commands"], 5)

    def test_command_log(self):
        s = self.sim
        t0 = time.monotonic()
        s.at("AT+CGSN=1")
        s.at('AT+QLWSERV="1.2.3.4",5683')
        t1 = time.monotonic()
        cmds = [ln for ln in s.log() if not ln.startswith("# ")]
        self.assertEqual(len(cmds), 2)
        stamps = []
        for ln, want in zip(cmds, ["AT+CGSN=1", 'AT+QLWSERV="1.2.3.4",5683']):
            m = re.fullmatch(r"(\d+\.\d{6}) (.*)", ln)
            self.assertIsNotNone(m, ln)
            self.assertEqual(m.group(2), want)
            stamps.append(float(m.group(1)))
        # Same CLOCK_MONOTONIC as ours, so tests can line the log up with their own clock.
        self.assertTrue(t0 - 0.001 <= stamps[0] <= stamps[1] <= t1 + 0.001, (t0, stamps, t1))

    def test_qrst_reboots_without_ok(self):
        s = self.sim
        s.register()
        s.at("ATE0")
        s.send("AT+QRST=1")
        out = s.read_until(b"\r\n+IP: 100.96.44.128\r\n")
        self.assertEqual(out, PREAMBLE_BYTES + b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n"
                         b"\r\n+IP: 100.96.44.128\r\n")
        st = s.state()
        self.assertEqual((st["echo"], st["registered"]), (1, 0))
        self.assertIn("# reboot AT+QRST=1", s.log())
        self.assertEqual(s.at("AT+QLWOPEN=1"), b"AT+QLWOPEN=1\r\r\nERROR\r\n")   # context forgotten


class Registration(SimTest):
    def test_open_needs_config(self):
        s = self.sim
        s.at("ATE0")
        self.assertEqual(s.at("AT+QLWOPEN=1"), b"\r\nERROR\r\n")
        for bad in ['AT+QLWSERV=1.2.3.4,5683', 'AT+QLWSERV="1.2.3.4",0', 'AT+QLWSERV="1.2.3.4",65536',
                    'AT+QLWSERV="1.2.3.4"', 'AT+QLWSERV="1.2.3.4,5683', 'AT+QLWADDOBJ=19']:
            self.assertEqual(s.at(bad), b"\r\nERROR\r\n", bad)
        self.assertEqual(s.at('AT+QLWSERV="1.2.3.4",65535'), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWOPEN=1"), b"\r\nERROR\r\n")

    def test_connect_ok_and_observes(self):
        s = self.sim
        s.at("ATE0")
        for c in REGISTER:
            self.assertEqual(s.at(c), b"\r\nOK\r\n", c)
        self.assertEqual(s.at('AT+QLWCFG="dataformat",1,1'), b"\r\nOK\r\n")
        self.assertEqual(s.state()["registered"], 0)
        self.assertEqual(s.at("AT+QLWOPEN=1"), b"\r\nOK\r\n")
        out = s.read_until(b"\r\n+QLWOBSERVE: 0,5,0,3\r\n")
        self.assertEqual(out, b"\r\nCONNECT OK\r\n\r\n+QLWOBSERVE: 0,19,0,0\r\n\r\n+QLWOBSERVE: 0,5,0,3\r\n")
        self.assertEqual(s.state()["registered"], 1)
        self.assertEqual(s.at("AT+QLWCLOSE"), b"\r\nOK\r\n")
        self.assertEqual(s.read_until(b"CLOSE OK\r\n"), b"\r\nCLOSE OK\r\n")
        self.assertEqual(s.state()["registered"], 0)

    def test_connect_fail_and_none(self):
        s = self.sim
        s.at("ATE0")
        for c in REGISTER:
            s.at(c)
        self.assertEqual(s.control("connect-result fail"), "ok")
        s.at("AT+QLWOPEN=1")
        self.assertEqual(s.read_until(b"FAIL\r\n"), b"\r\nCONNECT FAIL\r\n")
        self.assertEqual(s.control("connect-result none"), "ok")
        s.at("AT+QLWOPEN=1")
        self.assertEqual(s.drain(0.2), b"")
        self.assertEqual(s.control("connect-result ok"), "ok")
        self.assertEqual(s.at("AT+QLWOPEN=1"), b"\r\nOK\r\n")   # a retry restarts the attempt
        self.assertEqual(s.read_until(b"CONNECT OK\r\n"), b"\r\nCONNECT OK\r\n")
        self.assertEqual(s.control("connect-result maybe"), "err usage: connect-result ok|fail|none")


DATASEND_BAD = [
    "AT+QLWDATASEND=19,0,0,2,01,0x0100",        # length does not match the hex
    "AT+QLWDATASEND=19,0,0,1,1,0x0100",         # odd number of hex digits
    "AT+QLWDATASEND=19,0,0,1,0G,0x0100",        # not hex
    "AT+QLWDATASEND=19,0,0,0,,0x0100",          # empty
    "AT+QLWDATASEND=19,0,0,1,01,0x0200",        # unknown mode
    "AT+QLWDATASEND=19,0,0,1,01",               # missing mode
    "AT+QLWDATASEND=19,0,0,513," + "00" * 513 + ",0x0000",   # over 512 bytes
]


class DataSend(SimTest):
    def test_send_checks(self):
        s = self.sim
        s.at("ATE0")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,01,0x0100"), b"\r\nERROR\r\n")   # not registered
        s.register()
        for bad in DATASEND_BAD:
            self.assertEqual(s.at(bad), b"\r\nERROR\r\n", bad)
        s.at("AT+CMEE=1")
        for bad in DATASEND_BAD:
            self.assertEqual(s.at(bad), b"\r\n+CME ERROR: 50\r\n", bad)
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,512," + "ab" * 512 + ",0x0000"), b"\r\nOK\r\n")
        self.assertEqual(s.drain(0.15), b"")                     # NON: no SEND OK
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,3,01FFa0,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,02,0x0100"), b"\r\nERROR\r\n")   # CON outstanding
        self.assertEqual(s.read_until(b"SEND OK\r\n"), b"\r\nSEND OK\r\n")
        self.assertEqual(s.at('AT+QLWDATASEND=19,0,0,1,"02","0x0100"'), b"\r\nOK\r\n")  # quoted form
        s.read_until(b"SEND OK\r\n")
        self.assertEqual(s.control("send-result fail"), "ok")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,03,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.read_until(b"\r\n", 1) + s.read_until(b"\r\n"), b"\r\nSEND FAIL\r\n")
        self.assertEqual(s.control("send-result error"), "ok")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,04,0x0100"), b"\r\nERROR\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,05,0x0100"), b"\r\nOK\r\n")     # one-shot
        s.read_until(b"SEND OK\r\n")

    def test_send_results_sequence(self):
        """send-results: SEND FAIL twice then SEND OK, then back to ok; each send logged."""
        s = self.sim
        s.at("ATE0")
        s.register()
        self.assertEqual(s.control("send-results fail,fail,ok"), "ok")
        got = []
        for payload in ("A1", "A1", "A1", "B2"):
            self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,%s,0x0100" % payload), b"\r\nOK\r\n")
            got.append(s.read_until(b"\r\n", 1) + s.read_until(b"\r\n"))
        self.assertEqual(got, [b"\r\nSEND FAIL\r\n", b"\r\nSEND FAIL\r\n", b"\r\nSEND OK\r\n",
                               b"\r\nSEND OK\r\n"])
        log = [ln for ln in s.log() if ln.startswith(("# datasend ", "# send-result"))]
        self.assertEqual(log, ["# send-results fail,fail,ok",
                               "# datasend 19/0/0 A1 con OK", "# send-result A1 fail",
                               "# datasend 19/0/0 A1 con OK", "# send-result A1 fail",
                               "# datasend 19/0/0 A1 con OK", "# send-result A1 ok",
                               "# datasend 19/0/0 B2 con OK", "# send-result B2 ok"])

    def test_send_results_non_and_one_shot(self):
        """NON answers OK only (a "fail" is a silent loss), error answers ERROR; refused sends
        consume nothing; the one-shot send-result goes before the sequence."""
        s = self.sim
        s.at("ATE0")
        self.assertEqual(s.control("send-results error,fail,ok"), "ok")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,01,0x0000"), b"\r\nERROR\r\n")   # not registered
        s.register()
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,02,0x0000"), b"\r\nERROR\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,03,0x0000"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,04,0x0000"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=5,1,7,1,05,0x0000"), b"\r\nOK\r\n")       # back to ok
        self.assertEqual(s.drain(0.15), b"")                     # never SEND OK/FAIL for NON
        # One-shot first, then the sequence goes on; a refused CON consumes nothing either.
        s.control("send-results fail,ok")
        s.control("send-result error")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,06,0x0100"), b"\r\nERROR\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,07,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,08,0x0100"), b"\r\nERROR\r\n")   # CON outstanding
        self.assertEqual(s.read_until(b"\r\n", 1) + s.read_until(b"\r\n"), b"\r\nSEND FAIL\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,09,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.read_until(b"SEND OK\r\n"), b"\r\nSEND OK\r\n")
        log = [ln for ln in s.log() if ln.startswith("# datasend ")]
        self.assertEqual(log, ["# datasend 19/0/0 01 non ERROR not-registered",
                               "# datasend 19/0/0 02 non ERROR",
                               "# datasend 19/0/0 03 non OK lost",
                               "# datasend 19/0/0 04 non OK",
                               "# datasend 5/1/7 05 non OK",
                               "# datasend 19/0/0 06 con ERROR",
                               "# datasend 19/0/0 07 con OK",
                               "# datasend 19/0/0 08 con ERROR con-outstanding",
                               "# datasend 19/0/0 09 con OK"])
        # Deliveries: "non OK" lines plus "send-result ... ok" lines.
        delivered = [ln for ln in s.log() if re.fullmatch(r"# datasend \S+ \S+ non OK", ln) or
                     re.fullmatch(r"# send-result \S+ ok", ln)]
        self.assertEqual(len(delivered), 3)

    def test_send_results_usage(self):
        s = self.sim
        usage = "err usage: send-results <ok|fail|error>[,...] (at most 256) | none"
        for bad in ("send-results", "send-results ok fail", "send-results ok,maybe",
                    "send-results ok,,fail", "send-results " + ",".join(["ok"] * 257)):
            self.assertEqual(s.control(bad), usage, bad)
        self.assertEqual(s.control("send-results " + ",".join(["fail"] * 256)), "ok")
        self.assertEqual(s.control("send-results none"), "ok")     # cleared: ok again
        s.at("ATE0")
        s.register()
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,01,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.read_until(b"SEND OK\r\n"), b"\r\nSEND OK\r\n")
        self.assertIn("# send-results none", s.log())

    def test_hold_send(self):
        s = self.sim
        s.at("ATE0")
        s.register()
        self.assertEqual(s.control("hold-send on"), "ok")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,01,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.drain(0.2), b"")                      # held past send-delay
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,02,0x0100"), b"\r\nERROR\r\n")
        self.assertEqual(s.control("hold-send off"), "ok")
        self.assertEqual(s.read_until(b"SEND OK\r\n"), b"\r\nSEND OK\r\n")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,02,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.read_until(b"SEND OK\r\n"), b"\r\nSEND OK\r\n")

    def test_downlink_buffer(self):
        s = self.sim
        s.at("ATE0")
        s.register()
        self.assertEqual(s.at("AT+QLWRD=512"), b"\r\n+QLWRD: 0\r\n\r\nOK\r\n")
        self.assertEqual(s.control("downlink 19 1 0 a1b2c3d4"), "ok")
        self.assertEqual(s.read_until(b"\r\n", 1) + s.read_until(b"\r\n"), b"\r\n+QLWDATARECV: 19,1,0,4\r\n")
        self.assertEqual(s.control("downlink 19 1 0 EEFF"), "ok")
        self.assertEqual(s.drain(0.1), b"")                      # buffer not empty: no new URC
        self.assertEqual(s.at("AT+QLWRD=3"), b"\r\n+QLWRD: 3,1\r\n\r\nA1B2C3\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWRD=512"), b"\r\n+QLWRD: 1,0\r\n\r\nD4\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWRD=512"), b"\r\n+QLWRD: 2,0\r\n\r\nEEFF\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWRD=512"), b"\r\n+QLWRD: 0\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+QLWRD=0"), b"\r\nERROR\r\n")
        self.assertEqual(s.at("AT+QLWRD=513"), b"\r\nERROR\r\n")
        self.assertEqual(s.control("downlink 19 1 0 01"), "ok")
        self.assertEqual(s.read_until(b"\r\n", 1) + s.read_until(b"\r\n"), b"\r\n+QLWDATARECV: 19,1,0,1\r\n")
        self.assertEqual(s.control("downlink 19 1 0 zz"), "err bad hex")


def dfota_lines(end_code):
    out = [b"+QLWOBSERVE: 0,5,0,3", b'+QIND: "FOTA","COAPSTART"', b'+QIND: "FOTA","COAPEND",0',
           b'+QIND: "FOTA","START"'] + PREAMBLE
    out += [b'+QIND: "FOTA","UPDATING",%d%%,1,1' % p for p in range(20, 101)]
    out += PREAMBLE + [b"RDY", b"+CFUN: 1", b'+QIND: "FOTA","END",%d' % end_code,
                       b"+CPIN: READY", b"+IP: 100.96.44.128"]
    return out


class Fota(SimTest):
    def test_dfota_transcript(self):
        s = self.sim
        s.register()
        s.at("AT+QLWDATASEND=19,0,0,1,01,0x0100")
        s.read_until(b"SEND OK\r\n")
        self.assertEqual(s.control("play dfota 0.003"), "ok")
        self.assertTrue(s.control("play dfota").startswith("err busy"))
        got = s.read_until(b'"FOTA","START"\r\n')
        s.send("AT")                                    # interpreter down: no echo, no answer
        got += s.read_until(b'"UPDATING",50%,1,1\r\n')
        s.send("AT+QLWDATASEND=19,0,0,1,01,0x0100")
        self.assertEqual(s.state()["updating"], 1)
        got += s.read_until(b"+IP: 100.96.44.128\r\n")
        self.assertEqual(lines_of(got), dfota_lines(0))
        self.assertEqual(got.count(PREAMBLE_BYTES), 2)
        st = s.state()
        self.assertEqual((st["echo"], st["registered"], st["updating"]), (1, 0, 0))
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")          # echo is on again
        log = s.log()
        i_start = log.index('# urc +QIND: "FOTA","START"')
        i_end = log.index('# urc +QIND: "FOTA","END",0')
        between = [ln.split(" ", 1)[1] for ln in log[i_start:i_end] if not ln.startswith("# ")]
        self.assertEqual(between, ["AT", "AT+QLWDATASEND=19,0,0,1,01,0x0100"])
        self.assertLess(log.index('# urc +QIND: "FOTA","COAPSTART"'), i_start)
        self.assertIn("# play dfota", log)

    def test_fota_revision(self):
        s = self.sim
        s.at("ATE0")
        self.assertEqual(s.at("AT+CGMR"), b"\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n")
        self.assertTrue(s.control("fota-revision").startswith("err usage"))
        self.assertTrue(s.control("fota-revision two words").startswith("err usage"))
        # A failed update keeps the firmware and the pending revision...
        self.assertEqual(s.control("fota-revision BC26NBR01A07"), "ok")
        self.assertEqual(s.control("fota-resume fail"), "ok")
        self.assertEqual(s.control("play stall-updating 0.001"), "ok")
        s.read_until(b'"UPDATING",20%,1,1\r\n')
        self.assertEqual(s.control("reset"), "ok")
        s.read_until(b'"END",3\r\n')
        s.read_until(b"+IP: 100.96.44.128\r\n")
        self.assertIn(b"Revision: BC26NBR01A06", s.at("AT+CGMR"))
        # ...and END,0 installs it (once).
        self.assertEqual(s.control("play dfota 0.001"), "ok")
        s.read_until(b"+IP: 100.96.44.128\r\n")
        self.assertIn(b"Revision: BC26NBR01A07", s.at("AT+CGMR"))
        self.assertIn(b"Revision: BC26NBR01A07", s.at("ATI"))
        self.assertIn("# revision BC26NBR01A07", s.log())

    def test_coapend_fail_keeps_session(self):
        s = self.sim
        s.at("ATE0")
        s.register()
        self.assertEqual(s.control("play coapend-fail"), "ok")
        got = s.read_until(b'"COAPEND",5\r\n')
        self.assertEqual(lines_of(got), [b'+QIND: "FOTA","COAPSTART"', b'+QIND: "FOTA","COAPEND",5'])
        self.assertEqual(s.state()["registered"], 1)
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,01,0x0000"), b"\r\nOK\r\n")

    def test_end_fail(self):
        s = self.sim
        s.register()
        s.control("play end-fail")
        got = s.read_until(b"+IP: 100.96.44.128\r\n")
        self.assertEqual(lines_of(got), dfota_lines(3))
        self.assertEqual(s.state()["registered"], 0)

    def test_stall_updating_resumes_after_reset(self):
        s = self.sim
        s.register()
        s.control("play stall-updating")
        got = s.read_until(b'"UPDATING",40%,1,1\r\n')
        self.assertEqual(lines_of(got)[-1], b'+QIND: "FOTA","UPDATING",40%,1,1')
        s.send("AT+QRST=1")                             # interpreter is down: ignored
        self.assertEqual(s.drain(0.2), b"")
        self.assertEqual(s.state()["updating"], 1)
        self.assertEqual(s.control("reset"), "ok")
        got = s.read_until(b"+IP: 100.96.44.128\r\n")
        self.assertEqual(lines_of(got), PREAMBLE + [b"RDY", b"+CFUN: 1", b'+QIND: "FOTA","END",0',
                                                    b"+CPIN: READY", b"+IP: 100.96.44.128"])
        self.assertEqual(s.state()["updating"], 0)
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")

    def test_stall_updating_reset_without_resume(self):
        s = self.sim
        s.control("fota-resume none")
        s.control("play stall-updating")
        s.read_until(b'"UPDATING",40%,1,1\r\n')
        self.assertEqual(s.control("reset"), "ok")
        self.assertEqual(s.read_until(b"BROM\n\r"), PREAMBLE_BYTES)
        self.assertEqual(s.drain(0.2), b"")
        s.send("AT")
        self.assertEqual(s.drain(0.1), b"")
        self.assertEqual(s.state()["updating"], 1)

    def test_reset_while_downloading_drops_fota(self):
        s = self.sim
        s.control("play stall-downloading")
        s.read_until(b'"COAPSTART"\r\n')
        s.control("reset")
        got = s.read_until(b"+IP: 100.96.44.128\r\n")
        self.assertEqual(lines_of(got), PREAMBLE + [b"RDY", b"+CFUN: 1", b"+CPIN: READY", b"+IP: 100.96.44.128"])
        self.assertEqual(s.drain(0.1), b"")

    def test_stall_downloaded_reset_runs_update(self):
        s = self.sim
        s.control("fota-resume fail")
        s.control("play stall-downloaded")
        s.read_until(b'"COAPEND",0\r\n')
        self.assertEqual(s.drain(0.1), b"")
        s.send("AT+QRST=1")                             # interpreter up: this is the reset
        got = s.read_until(b'"END",3\r\n', 5)
        lines = lines_of(got)
        self.assertEqual(lines[:10], [b"AT+QRST=1"] + PREAMBLE + [b"RDY", b"+CFUN: 1"])
        self.assertIn(b'+QIND: "FOTA","START"', lines)
        self.assertIn(b'+QIND: "FOTA","UPDATING",100%,1,1', lines)

    def test_reboot_and_garbage(self):
        s = self.sim
        s.register()
        s.control("play reboot")
        got = s.read_until(b"+CPIN: READY\r\n")
        self.assertEqual(got, PREAMBLE_BYTES + b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n")
        self.assertEqual(s.state()["registered"], 0)
        self.assertEqual(s.control("play garbage 3000"), "ok")
        end = time.monotonic() + 3
        while len(s.buf) < 3000 and time.monotonic() < end:
            s.pump(0.1)
        self.assertEqual(len(s.drain(0.1)), 3000)
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")


class Control(SimTest):
    def test_protocol(self):
        s = self.sim
        self.assertEqual(s.control("ping"), "ok")
        self.assertEqual(s.control("frobnicate"), "err unknown command")
        self.assertEqual(s.control("play nosuch"), "err unknown scenario nosuch")
        self.assertEqual(s.control("silent maybe"), "err unknown command")
        self.assertEqual(s.control("replug"), "err not unplugged")
        self.assertEqual(s.state(), {"echo": 1, "registered": 0, "updating": 0, "silent": 0, "commands": 0,
                                     "cereg": 0, "stat": 1})
        # A second client, interleaved with the first.
        c2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c2.settimeout(5)
        c2.connect(s.ctlpath)
        c2.sendall(b"ping\nstate\n")
        buf = b""
        while buf.count(b"\n") < 2:
            buf += c2.recv(4096)
        self.assertEqual(buf, b"ok\nok echo=1 registered=0 updating=0 silent=0 commands=0 cereg=0 stat=1\n")
        c2.close()
        self.assertEqual(s.control("urc +QLWOBSERVE: 0,19,0,0"), "ok")
        self.assertEqual(s.read_until(b"0,0\r\n"), b"\r\n+QLWOBSERVE: 0,19,0,0\r\n")
        self.assertEqual(s.control("raw 00ff0d41"), "ok")
        self.assertEqual(s.read_until(b"A"), b"\x00\xff\rA")

    def test_silent(self):
        s = self.sim
        self.assertEqual(s.control("silent on"), "ok")
        s.send("AT")
        self.assertEqual(s.drain(0.15), b"")
        st = s.state()
        self.assertEqual((st["silent"], st["commands"]), (1, 1))
        self.assertEqual(s.control("silent off"), "ok")
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")
        self.assertEqual(len([ln for ln in s.log() if ln.endswith(" AT")]), 2)
        # A RESET_N/PWRKEY pulse reboots even a silent module and clears "silent".
        for pulse in ("reset", "power-on"):
            self.assertEqual(s.control("silent on"), "ok")
            self.assertEqual(s.control(pulse), "ok")
            self.assertEqual(s.read_until(b"+IP: 100.96.44.128\r\n"),
                             PREAMBLE_BYTES + b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n"
                             b"\r\n+IP: 100.96.44.128\r\n")
            self.assertEqual(s.state()["silent"], 0)
            self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")
            self.assertIn("# reboot " + pulse, s.log())

    def test_unplug_replug(self):
        s = self.sim
        old = os.readlink(s.link)
        self.assertEqual(old, s.pty)
        self.assertEqual(s.control("unplug 0"), "ok")
        self.assertFalse(os.path.lexists(s.link))
        # The daemon's fd sees a hang-up: EOF or EIO.
        r, _, _ = select.select([s.fd], [], [], 2)
        self.assertTrue(r)
        try:
            self.assertEqual(os.read(s.fd, 100), b"")
        except OSError as e:
            self.assertEqual(e.errno, 5)
        self.assertEqual(s.control("urc x"), "err unplugged")
        self.assertEqual(s.control("replug"), "ok")
        new = os.readlink(s.link)
        self.assertNotEqual(new, old)                   # we still hold the old pts open
        s.open_port()
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")
        # Timed unplug relinks by itself.
        self.assertEqual(s.control("unplug 0.2"), "ok")
        self.assertFalse(os.path.lexists(s.link))
        end = time.monotonic() + 3
        while not os.path.lexists(s.link) and time.monotonic() < end:
            time.sleep(0.02)
        self.assertTrue(os.path.lexists(s.link))
        s.open_port()
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")
        log = s.log()
        self.assertEqual(log.count("# unplug"), 2)
        self.assertEqual(len([ln for ln in log if ln.startswith("# replug /dev/pts/")]), 2)

    def test_sigterm_cleans_up(self):
        s = self.sim
        s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.proc.wait(5), 0)
        self.assertFalse(os.path.lexists(s.link))
        self.assertFalse(os.path.lexists(s.ctlpath))

    def test_quit(self):
        s = self.sim
        self.assertEqual(s.control("quit"), "ok")
        self.assertEqual(s.proc.wait(5), 0)
        self.assertFalse(os.path.lexists(s.link))


class Boot(SimTest):
    extra = ("--boot", "--autobaud", "--imei", "123456789012345", "--revision", "BC26NBR01A07")

    def test_boot_and_autobaud(self):
        s = self.sim
        got = s.read_until(b"+IP: 100.96.44.128\r\n")     # written before we opened the pty
        self.assertEqual(got, PREAMBLE_BYTES + b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n"
                         b"\r\n+IP: 100.96.44.128\r\n")
        s.at("ATE0")
        self.assertEqual(s.at("AT+IPR?"), b"\r\n+IPR: 0\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+IPR=115201"), b"\r\nERROR\r\n")
        self.assertEqual(s.at("AT+IPR=115200"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+IPR?"), b"\r\n+IPR: 0\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT&W"), b"\r\nOK\r\n")
        self.assertEqual(s.at("AT+IPR?"), b"\r\n+IPR: 115200\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+CGSN=1"), b"\r\n+CGSN: 123456789012345\r\n\r\nOK\r\n")
        self.assertEqual(s.at("AT+CGMR"), b"\r\nRevision: BC26NBR01A07\r\n\r\nOK\r\n")


class Split(SimTest):
    extra = ("--split", "--seed", "7")

    def test_split_output_is_intact(self):
        s = self.sim
        reads = 0
        s.send("ATI")
        want = b"ATI\r\r\nQuectel_Ltd\r\n\r\nQuectel_BC26\r\n\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n"
        end = time.monotonic() + 3
        while len(s.buf) < len(want) and time.monotonic() < end:
            r, _, _ = select.select([s.fd], [], [], 0.5)
            if r:
                s.buf += os.read(s.fd, 65536)
                reads += 1
        self.assertEqual(s.buf, want)
        self.assertGreater(reads, 3)                    # it really arrived in pieces
        s.buf = b""
        s.register()


NOISE = [b'+QNBIOTEVENT: "ENTER PSM"', b'+QNBIOTEVENT: "EXIT PSM"', b"+CTZV: 19/01/01,00:00:00,+32",
         b'+CEDRXP: 5,"0101","0101","0011"', b"+CSCON: 0", b"+CSCON: 1", b"+CEREG: 1", b"+QATSLEEP",
         b"+QATWAKEUP"]
BOOT_TAIL = b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+IP: 100.96.44.128\r\n"
IP_LINE = b"+IP: 100.96.44.128\r\n"


def timed(fn, *args):
    t = time.monotonic()
    out = fn(*args)
    return out, time.monotonic() - t


class FaultControl(SimTest):
    def test_syntax_and_log(self):
        s = self.sim
        good = ["answer-delay 0", "late ATI 0.5", "boot-slow 0", "preamble legible", "rdy on",
                "noise 0", "noise 0 +CSCON: 0|+CEREG: 1", "send-delay 0.1", "send-delay default",
                "qlwrd-fault none", "stall-read off", "qrst-while-flashing ignore",
                "midline-reboot off", "fota-resume redownload", "fota-resume ok"]
        for req in good:
            self.assertEqual(s.control(req), "ok", req)
        bad = {"answer-delay -1": "err bad seconds", "answer-delay nan": "err bad seconds",
               "answer-delay": "err usage: answer-delay <seconds>",
               "send-delay x": "err bad seconds", "send-delay": "err usage: send-delay <seconds>|default",
               "late ATI": "err usage: late <prefix> <seconds>", "late ATI inf": "err bad seconds",
               "noise 1.5": "err bad probability", "noise x": "err bad probability",
               "noise": "err usage: noise <p> [urc|urc...]", "noise 1 |": "err empty urc list",
               "preamble fuzzy": "err usage: preamble legible|garbled|missing",
               "qlwrd-fault once": "err usage: qlwrd-fault none|error|junk|once-error|once-junk",
               "qrst-while-flashing maybe": "err usage: qrst-while-flashing ignore|obey",
               "fota-resume later": "err usage: fota-resume ok|fail|none|redownload",
               "rdy maybe": "err unknown command", "stall-read": "err unknown command"}
        for req, want in bad.items():
            self.assertEqual(s.control(req), want, req)
        for i in range(15):
            self.assertEqual(s.control("late AT+X%d 1" % i), "ok")
        self.assertEqual(s.control("late AT+Y 1"), "err too many pending late answers")
        events = [ln[2:] for ln in s.log() if ln.startswith("# ")]
        for req in good:
            self.assertIn(req, events)
        self.assertNotIn("answer-delay -1", events)
        # Nothing new by default: the state line and the answers are as before.
        self.assertEqual(s.state(), {"echo": 1, "registered": 0, "updating": 0, "silent": 0, "commands": 0,
                                     "cereg": 0, "stat": 1})


class AnswerDelay(SimTest):
    def test_answers_come_late_in_order(self):
        s = self.sim
        s.at("ATE0")
        self.assertEqual(s.control("answer-delay 0.2"), "ok")
        out, took = timed(s.at, "AT")
        self.assertEqual(out, b"\r\nOK\r\n")
        self.assertGreaterEqual(took, 0.19)
        s.at("ATE1")
        t0 = time.monotonic()
        os.write(s.fd, b"AT+CGSN=1\rAT+CGMR\r")
        self.assertEqual(s.read_until(b"AT+CGSN=1\r", 0.1), b"AT+CGSN=1\r")   # echo at once
        out = s.read_until(b"Revision: BC26NBR01A06\r\n\r\nOK\r\n")
        self.assertEqual(out, b"\r\n+CGSN: 866971030399922\r\n\r\nOK\r\nAT+CGMR\r"
                         b"\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n")
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)
        self.assertLess(time.monotonic() - t0, 0.35)    # the second one was not delayed twice
        # What a command sets off counts from its answer: CONNECT OK after OK.
        s.control("answer-delay 0.05")
        s.at("ATE0")
        for c in REGISTER:
            s.at(c)
        self.assertEqual(s.at("AT+QLWOPEN=1"), b"\r\nOK\r\n")
        self.assertEqual(s.read_until(b"CONNECT OK\r\n"), b"\r\nCONNECT OK\r\n")
        self.assertEqual(s.control("answer-delay 0"), "ok")
        self.assertLess(timed(s.at, "AT")[1], 0.1)

    def test_reboot_drops_pending_answer(self):
        s = self.sim
        s.control("answer-delay 0.3")
        s.send("ATI")
        s.read_until(b"ATI\r")
        s.control("reset")
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL)
        self.assertEqual(s.drain(0.35), b"")


class AnswerDelayOption(SimTest):
    extra = ("--answer-delay", "0.15")

    def test_cli(self):
        out, took = timed(self.sim.at, "AT")
        self.assertEqual(out, b"AT\r\r\nOK\r\n")
        self.assertGreaterEqual(took, 0.14)


class Late(SimTest):
    def test_one_shot_and_serial(self):
        s = self.sim
        self.assertEqual(s.control("late at+cgsn 0.3"), "ok")
        t0 = time.monotonic()
        os.write(s.fd, b"AT+CGSN=1\rAT\r")
        self.assertEqual(s.drain(0.15), b"AT+CGSN=1\r")     # the AT waits behind it
        out = s.read_until(b"AT\r\r\nOK\r\n")
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)
        self.assertEqual(out, b"\r\n+CGSN: 866971030399922\r\n\r\nOK\r\nAT\r\r\nOK\r\n")
        self.assertLess(timed(s.at, "AT+CGSN=1")[1], 0.1)  # one-shot
        self.assertEqual(len([ln for ln in s.log() if re.fullmatch(r"\d+\.\d{6} AT", ln)]), 1)
        # A late QLWDATASEND: SEND OK still follows its OK by send-delay.
        s.at("ATE0")
        s.register()
        s.control("late AT+QLWDATASEND 0.2")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,1,01,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.read_until(b"SEND OK\r\n"), b"\r\nSEND OK\r\n")


class BootSlow(SimTest):
    def test_interpreter_late_after_rdy(self):
        s = self.sim
        self.assertEqual(s.control("boot-slow 0.4"), "ok")
        s.control("reset")
        s.read_until(b"RDY\r\n")
        t_rdy = time.monotonic()
        s.send("AT")
        self.assertEqual(s.drain(0.15), b"\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+IP: 100.96.44.128\r\n")
        time.sleep(max(0.0, t_rdy + 0.42 - time.monotonic()))
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")
        self.assertEqual(len([ln for ln in s.log() if ln.endswith(" AT")]), 2)
        self.assertEqual(s.control("boot-slow 0"), "ok")
        s.control("reset")
        s.read_until(b"RDY\r\n")
        # The boot's URCs follow RDY by a line delay each: take them first, or they interleave.
        s.read_until(b"+IP: 100.96.44.128\r\n")
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")


class Preamble(SimTest):
    extra = ("--seed", "3")

    def test_garbled(self):
        s = self.sim
        self.assertEqual(s.control("preamble garbled"), "ok")
        s.control("reset")
        out = s.read_until(IP_LINE)
        m = re.fullmatch(rb"(\n\r(?:[^\r\n]+\n\r){7})\r\n(Rbb|[^\r\n]{2})RDY(\r\n.*)", out, re.S)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(3), BOOT_TAIL[len(b"\r\nRDY"):])
        junk = lines_of(m.group(1))
        self.assertEqual([len(j) for j in junk], [len(p) for p in PREAMBLE])
        for j in junk:
            self.assertNotIn(j, PREAMBLE)
            odd = sum(1 for b in j if not 0x20 <= b < 0x7f)
            self.assertGreater(odd, len(j) // 2, j)
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")
        s.control("reset")
        self.assertNotIn(b"Leaving the BROM", s.read_until(IP_LINE))

    def test_missing_and_no_rdy(self):
        s = self.sim
        self.assertEqual(s.control("preamble missing"), "ok")
        s.control("reset")
        self.assertEqual(s.read_until(IP_LINE), BOOT_TAIL)
        self.assertEqual(s.control("rdy off"), "ok")
        s.control("reset")
        self.assertEqual(s.read_until(IP_LINE), BOOT_TAIL[len(b"\r\nRDY\r\n"):])
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")        # the interpreter came up
        s.control("preamble legible")
        s.control("reset")
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL[len(b"\r\nRDY\r\n"):])
        s.control("rdy on")
        s.control("reset")
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL)


def noisy_ati(tmp, seed):
    sim = Sim(tempfile.mkdtemp(dir=tmp), "--seed", str(seed))
    try:
        sim.at("ATE0")
        sim.control("noise 0.5")
        out = b"".join(sim.at("ATI") for _ in range(4))
        return out + sim.drain(0.05)
    finally:
        sim.close()


class Noise(SimTest):
    def test_noise_everywhere(self):
        s = self.sim
        s.at("ATE0")
        s.drain(0.05)
        self.assertEqual(s.control("noise 1"), "ok")
        s.send("ATI")
        got = lines_of(s.read_until(b"OK\r\n") + s.drain(0.1))
        self.assertEqual(got[0::2], [b"Quectel_Ltd", b"Quectel_BC26", b"Revision: BC26NBR01A06", b"OK"])
        self.assertEqual(len(got), 8)
        for n in got[1::2]:
            self.assertIn(n, NOISE)
        self.assertEqual(s.control("noise 1 +CSCON: 0"), "ok")
        s.register()
        s.drain(0.05)
        s.control("downlink 19 1 0 a1b2")
        s.read_until(b"+CSCON: 0\r\n")
        s.send("AT+QLWRD=512")
        self.assertEqual(s.read_until(b"OK\r\n\r\n+CSCON: 0\r\n"),
                         b"\r\n+QLWRD: 2,0\r\n\r\n+CSCON: 0\r\n\r\nA1B2\r\n\r\n+CSCON: 0\r\n"
                         b"\r\nOK\r\n\r\n+CSCON: 0\r\n")
        self.assertIn("# noise-urc +CSCON: 0", s.log())
        self.assertEqual(s.control("noise 0"), "ok")
        self.assertEqual(s.at("AT"), b"\r\nOK\r\n")
        self.assertEqual(s.drain(0.05), b"")

    def test_reproducible(self):
        a = noisy_ati(self.tmpdir.name, 11)
        b = noisy_ati(self.tmpdir.name, 11)
        self.assertEqual(a, b)
        self.assertNotEqual(lines_of(a), [b"Quectel_Ltd", b"Quectel_BC26", b"Revision: BC26NBR01A06", b"OK"] * 4)


class SendDelay(SimTest):
    def test_send_delay_and_result_log(self):
        s = self.sim
        s.at("ATE0")
        s.register()
        self.assertEqual(s.control("send-delay 0.3"), "ok")
        self.assertEqual(s.at("AT+QLWDATASEND=19,0,0,3,01FFa0,0x0100"), b"\r\nOK\r\n")
        self.assertEqual(s.drain(0.2), b"")
        self.assertEqual(s.read_until(b"SEND OK\r\n", 1), b"\r\nSEND OK\r\n")
        self.assertEqual(s.control("send-delay default"), "ok")
        s.control("send-result fail")
        s.at("AT+QLWDATASEND=19,0,0,1,03,0x0100")
        self.assertLess(timed(s.read_until, b"SEND FAIL\r\n")[1], 0.15)
        s.control("hold-send on")
        s.at('AT+QLWDATASEND=19,0,0,2,"beef","0x0100"')
        s.drain(0.1)
        self.assertNotIn("# send-result BEEF ok", s.log())
        s.control("hold-send off")
        s.read_until(b"SEND OK\r\n")
        log = s.log()
        self.assertIn("# send-result 01FFA0 ok", log)
        self.assertIn("# send-result 03 fail", log)
        self.assertLess(log.index("# hold-send off"), log.index("# send-result BEEF ok"))
        s.at("AT+QLWDATASEND=19,0,0,1,04,0x0000")           # NON: no result, no event
        s.drain(0.1)
        self.assertEqual(len([ln for ln in s.log() if ln.startswith("# send-result ") and
                              ln.count(" ") == 3]), 3)


class QlwrdFault(SimTest):
    def test_faults(self):
        s = self.sim
        s.at("ATE0")
        s.register()
        s.control("downlink 19 1 0 a1b2")
        s.read_until(b"+QLWDATARECV: 19,1,0,2\r\n")
        self.assertEqual(s.control("qlwrd-fault once-error"), "ok")
        self.assertEqual(s.at("AT+QLWRD=512"), b"\r\nERROR\r\n")
        self.assertEqual(s.control("qlwrd-fault once-junk"), "ok")
        got = lines_of(s.at("AT+QLWRD=512"))
        self.assertEqual((got[0], got[2], got[3]), (b"+QLWRD: 2,0", b"A1B", b"OK"))
        self.assertIn(got[1], NOISE)
        self.assertEqual(s.at("AT+QLWRD=1"), b"\r\n+QLWRD: 1,1\r\n\r\nA1\r\n\r\nOK\r\n")  # kept
        self.assertEqual(s.control("qlwrd-fault error"), "ok")
        for _ in range(2):
            self.assertEqual(s.at("AT+QLWRD=512"), b"\r\nERROR\r\n")
        self.assertEqual(s.control("qlwrd-fault junk"), "ok")
        for _ in range(2):
            self.assertEqual(lines_of(s.at("AT+QLWRD=512"))[0::3], [b"+QLWRD: 1,0", b"OK"])
        self.assertEqual(s.at("AT+QLWRD=0"), b"\r\nERROR\r\n")   # a bad command stays bad
        self.assertEqual(s.control("qlwrd-fault none"), "ok")
        self.assertEqual(s.at("AT+QLWRD=512"), b"\r\n+QLWRD: 1,0\r\n\r\nB2\r\n\r\nOK\r\n")


class StallRead(SimTest):
    def test_stall_and_resume(self):
        s = self.sim
        self.assertEqual(s.control("stall-read on"), "ok")
        os.write(s.fd, b"AT\r")
        self.assertEqual(s.drain(0.15), b"")
        written, full = 0, False
        while written < (8 << 20):
            try:
                written += os.write(s.fd, b"X" * 4096)
            except BlockingIOError:
                full = True
                break
        self.assertTrue(full)                       # the daemon's writes would block
        self.assertEqual(s.state()["commands"], 0)
        self.assertEqual(s.control("stall-read off"), "ok")
        self.assertEqual(s.read_until(b"OK\r\n"), b"AT\r\r\nOK\r\n")
        end = time.monotonic() + 3
        while True:                                 # room again once the sim has read it all
            try:
                os.write(s.fd, b"\rAT\r")
                break
            except BlockingIOError:
                self.assertLess(time.monotonic(), end)
                time.sleep(0.01)
        self.assertEqual(s.read_until(b"OK\r\n"), b"AT\r\r\nOK\r\n")
        self.assertIn("# discarded a command line longer than 4096 bytes", s.log())


class QrstWhileFlashing(SimTest):
    def test_obey(self):
        s = self.sim
        self.assertEqual(s.control("qrst-while-flashing obey"), "ok")
        s.send("AT+QRST=1")                     # not flashing: an ordinary reset
        self.assertEqual(s.read_until(IP_LINE), b"AT+QRST=1\r" + PREAMBLE_BYTES + BOOT_TAIL)
        s.control("play stall-updating")
        s.read_until(b'"UPDATING",40%,1,1\r\n')
        s.send("AT")
        self.assertEqual(s.drain(0.1), b"")         # still deaf to anything else
        s.send("AT+QRST=1")
        got = s.read_until(IP_LINE)
        self.assertEqual(lines_of(got), PREAMBLE + [b"RDY", b"+CFUN: 1", b'+QIND: "FOTA","END",0',
                                                    b"+CPIN: READY", b"+IP: 100.96.44.128"])
        self.assertEqual(s.log().count("# reboot AT+QRST=1"), 2)


class MidlineReboot(SimTest):
    def test_preamble_mid_line(self):
        s = self.sim
        self.assertEqual(s.control("midline-reboot on"), "ok")
        for how in ("reset", "play reboot"):
            s.control(how)
            self.assertEqual(s.read_until(b"+CPIN: READY\r\n"),
                             b"+CSCON: " + PREAMBLE_BYTES[2:] + BOOT_TAIL[:-len(b"\r\n" + IP_LINE)])
            s.drain(0.05)
        s.control("midline-reboot off")
        s.control("reset")
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL)


class Redownload(SimTest):
    def test_reset_while_downloading_downloads_again(self):
        s = self.sim
        self.assertEqual(s.control("fota-resume redownload"), "ok")
        s.control("play stall-downloading")
        s.read_until(b'"COAPSTART"\r\n')
        s.control("reset")
        got = s.read_until(b'"END",0\r\n\r\n+CPIN: READY\r\n' + b"\r\n" + IP_LINE, 5)
        want = PREAMBLE + [b"RDY", b"+CFUN: 1", b"+CPIN: READY", b"+IP: 100.96.44.128"]
        want += dfota_lines(0)[1:]
        self.assertEqual(lines_of(got), want)
        self.assertEqual(s.state()["updating"], 0)
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")


class StallUpdatingTalking(SimTest):
    def test_talks_until_reset(self):
        s = self.sim
        self.assertEqual(s.control("play stall-updating-talking 0.005"), "ok")
        s.read_until(b'"UPDATING",41%,1,1\r\n')
        t0 = time.monotonic()
        got = s.read_until(b'"UPDATING",45%,1,1\r\n')
        self.assertGreater(time.monotonic() - t0, 0.15)        # 4 gaps of 10 line_delays
        self.assertEqual(lines_of(got), [b'+QIND: "FOTA","UPDATING",%d%%,1,1' % p for p in range(42, 46)])
        s.send("AT")                                # flashing: neither echo nor answer
        self.assertEqual(lines_of(s.read_until(b'"UPDATING",47%,1,1\r\n')),
                         [b'+QIND: "FOTA","UPDATING",%d%%,1,1' % p for p in (46, 47)])
        self.assertEqual(s.state()["updating"], 1)
        self.assertEqual(s.control("reset"), "ok")
        got = s.read_until(IP_LINE)
        self.assertEqual(lines_of(got)[-12:], PREAMBLE + [b"RDY", b"+CFUN: 1", b'+QIND: "FOTA","END",0',
                                                          b"+CPIN: READY", b"+IP: 100.96.44.128"])
        self.assertEqual(s.drain(0.1), b"")


class Gpio(SimTest):
    def args(self, tmp):
        self.gpio = os.path.join(tmp, "gpio.log")       # created later, like the daemon does
        return ("--gpio", self.gpio)

    def drive(self, *lines):
        with open(self.gpio, "a") as f:
            for ln in lines:
                f.write(ln)
                f.flush()

    def wait_log(self, text, count=1):
        end = time.monotonic() + 2
        while self.sim.log().count(text) < count:
            self.assertLess(time.monotonic(), end, text)
            time.sleep(0.01)

    def test_reset_line(self):
        s = self.sim
        s.register()
        self.drive("100 reset inactive\n", "101 pwrkey inactive\n")   # no edge: nothing
        self.wait_log("# gpio 101 pwrkey inactive")
        self.drive("200 reset act")                                    # a partial line waits
        time.sleep(0.06)
        self.assertEqual(s.state()["registered"], 1)
        self.drive("ive\n")
        self.wait_log("# gpio 200 reset active")
        s.send("AT")
        self.assertEqual(s.drain(0.1), b"")                            # held: no echo, no answer
        self.assertEqual(s.control("urc x"), "err held in reset")
        self.assertEqual(s.state()["registered"], 0)
        self.drive("300 reset inactive\n", "junk\n")
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL)
        self.assertEqual(s.at("AT"), b"AT\r\r\nOK\r\n")
        log = s.log()
        self.assertIn("# reboot gpio reset", log)
        self.assertIn("# gpio bad line junk", log)
        self.assertEqual(len([ln for ln in log if ln.startswith("# reboot")]), 1)

    def test_pwrkey_and_table2(self):
        s = self.sim
        self.drive("1 pwrkey active\n")
        self.wait_log("# gpio 1 pwrkey active")
        self.assertEqual(s.drain(0.05), b"")                           # nothing until released
        self.drive("2 pwrkey inactive\n")
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL)
        self.drive("3 reset active\n", "4 pwrkey active\n", "5 pwrkey inactive\n")
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL)
        self.drive("6 reset inactive\n")                              # the pulse ended the hold
        self.wait_log("# gpio 6 reset inactive")
        self.assertEqual(s.drain(0.05), b"")
        log = s.log()
        self.assertIn("# reboot gpio pwrkey", log)
        self.assertIn("# reboot gpio power-on", log)
        # An upgrade interrupted by RESET_N resumes after it (table 2).
        s.control("play stall-updating")
        s.read_until(b'"UPDATING",40%,1,1\r\n')
        self.drive("7 reset active\n", "8 reset inactive\n")
        got = s.read_until(IP_LINE)
        self.assertEqual(lines_of(got), PREAMBLE + [b"RDY", b"+CFUN: 1", b'+QIND: "FOTA","END",0',
                                                    b"+CPIN: READY", b"+IP: 100.96.44.128"])
        # A recreated file is read from its start.
        os.unlink(self.gpio)
        self.drive("9 reset active\n")
        self.wait_log("# gpio 9 reset active")


class LogTx(SimTest):
    extra = ("--log-tx",)

    def test_tx_lines(self):
        s = self.sim
        t0 = time.clock_gettime(time.CLOCK_BOOTTIME)
        s.at("AT")
        s.control("reset")
        s.read_until(IP_LINE)
        t1 = time.clock_gettime(time.CLOCK_BOOTTIME)
        tx = []
        for ln in s.log():
            if ln.startswith("# tx "):
                m = re.fullmatch(r"# tx (\d+\.\d{6}) (.*)", ln)
                self.assertIsNotNone(m, ln)
                self.assertTrue(t0 - 0.001 <= float(m.group(1)) <= t1 + 0.001, ln)
                tx.append(m.group(2))
        self.assertEqual(tx, ["AT", "OK"] + [p.decode() for p in PREAMBLE] +
                         ["RDY", "+CFUN: 1", "+CPIN: READY", "+IP: 100.96.44.128"])
        s.control("raw 41ff5c0d0a")
        s.read_until(b"\n")
        self.assertRegex(s.log()[-1], r"^# tx \d+\.\d{6} A\\xff\\x5c$")



QENG_DEFAULT = b'+QENG: 0,2506,2,62,"6923252",-84,-10,-74,2,5,"69C9",0,90'   # the manual's example
LOC = b',"69C9","6923252",9'
PSM = b',,,"00100100","01000111"'


def answer(*lines):
    """The bytes of an answer with echo off: each line framed CR LF ... CR LF."""
    return b"".join(b"\r\n" + ln + b"\r\n" for ln in lines)


class Radio(SimTest):
    def test_default_answers_and_errors(self):
        s = self.sim
        s.at("ATE0")
        self.assertEqual(s.at("AT+CESQ"), answer(b"+CESQ: 37,99,255,255,20,57", b"OK"))
        self.assertEqual(s.at("AT+CSQ"), answer(b"+CSQ: 19,99", b"OK"))
        self.assertEqual(s.at("AT+QENG=0"), answer(QENG_DEFAULT, b"+QENG: 1,2506,2,63,-95", b"OK"))
        self.assertEqual(s.at("AT+CEREG?"), answer(b"+CEREG: 0,1", b"OK"))     # n=0 after boot
        self.assertEqual(s.at("AT+CEREG=?"), answer(b"+CEREG: (0-5)", b"OK"))
        self.assertEqual(s.at("AT+CESQ=?"),
                         answer(b"+CESQ: (0-63,99),(0-7,99),(255),(255),(0-34,255),(0-97,255)", b"OK"))
        self.assertEqual(s.at("AT+CSQ=?"), answer(b"+CSQ: (0-31,99),(0-7,99)", b"OK"))
        bad = ["AT+QENG=1", "AT+QENG?", "AT+QENG", "AT+QENG=0,1", "AT+CSQ=1", "AT+CSQ?", "AT+CESQ?",
               "AT+CEREG=6", "AT+CEREG=-1", "AT+CEREG=x", 'AT+CEREG="2"', "AT+CEREG=2,1", "AT+CEREG"]
        for cmd in bad:
            self.assertEqual(s.at(cmd), b"\r\nERROR\r\n", cmd)
        s.at("AT+CMEE=1")
        for cmd in bad:
            self.assertEqual(s.at(cmd), b"\r\n+CME ERROR: 50\r\n", cmd)
        self.assertEqual(s.at("AT+CEREG="), b"\r\nOK\r\n")        # AT+CEREG=[<n>]: empty is 0
        st = s.state()
        self.assertEqual((st["cereg"], st["stat"]), (0, 1))

    def test_cereg_forms_per_n(self):
        s = self.sim
        s.at("ATE0")
        for n, urc in [(0, None), (1, b"1"), (2, b"1" + LOC), (3, b"1" + LOC), (4, b"1" + LOC),
                       (5, b"1" + LOC)]:
            self.assertEqual(s.at("AT+CEREG=%d" % n), b"\r\nOK\r\n", n)
            self.assertEqual(s.state()["cereg"], n)
            read = b"+CEREG: %d,1" % n + (LOC if n >= 2 else b"")
            self.assertEqual(s.at("AT+CEREG?"), answer(read, b"OK"), n)
            self.assertEqual(s.control("radio stat 1"), "ok")    # unchanged: printed all the same
            if urc is None:
                self.assertEqual(s.drain(0.05), b"")
            else:
                self.assertEqual(s.read_until(b"\r\n", 1) + s.read_until(b"\r\n"), answer(b"+CEREG: " + urc))
        # PSM timers in the n=4/5 forms only, after empty cause fields.
        self.assertEqual(s.control("radio psm on"), "ok")
        for n in range(6):
            s.at("AT+CEREG=%d" % n)
            read = b"+CEREG: %d,1" % n + (LOC if n >= 2 else b"") + (PSM if n >= 4 else b"")
            self.assertEqual(s.at("AT+CEREG?"), answer(read, b"OK"), n)
        s.control("radio stat 5")
        self.assertEqual(s.read_until(PSM + b"\r\n"), answer(b"+CEREG: 5" + LOC + PSM))
        s.control("radio psm off")
        # Not registered: <stat> alone, whatever n.
        for n in (1, 2, 3, 5):
            s.at("AT+CEREG=%d" % n)
            for stat in (0, 2, 3, 4):
                self.assertEqual(s.control("radio stat %d" % stat), "ok")
                self.assertEqual(s.read_until(b"\r\n", 1) + s.read_until(b"\r\n"),
                                 answer(b"+CEREG: %d" % stat), (n, stat))
                self.assertEqual(s.at("AT+CEREG?"), answer(b"+CEREG: %d,%d" % (n, stat), b"OK"))
                self.assertEqual(s.state()["stat"], stat)
        self.assertIn("# urc +CEREG: 4", s.log())
        self.assertIn("# radio stat 4", s.log())

    def test_cell_change(self):
        s = self.sim
        s.at("ATE0")
        s.at("AT+CEREG=1")
        self.assertEqual(s.control("radio cell 1a2b 0bf576d1"), "ok")     # n=1: no URC for a cell
        self.assertEqual(s.drain(0.05), b"")
        s.at("AT+CEREG=2")
        self.assertEqual(s.control("radio cell 00FF 5"), "ok")
        self.assertEqual(s.read_until(b"9\r\n"), answer(b'+CEREG: 1,"00FF","5",9'))
        self.assertEqual(s.at("AT+QENG=0"), answer(b'+QENG: 0,2506,2,62,"5",-84,-10,-74,2,5,"00FF",0,90',
                                                   b"+QENG: 1,2506,2,63,-95", b"OK"))
        s.at("AT+CEREG=5")
        s.control("radio cell 1a2b 0bf576d1")
        self.assertEqual(s.read_until(b"9\r\n"), answer(b'+CEREG: 1,"1A2B","0BF576D1",9'))
        s.control("radio stat 2")
        s.read_until(b"+CEREG: 2\r\n")
        s.control("radio cell 1a2c 1")                                       # not registered
        self.assertEqual(s.drain(0.05), b"")
        s.control("radio stat 1")
        self.assertEqual(s.read_until(b"9\r\n"), answer(b'+CEREG: 1,"1A2C","1",9'))
        for bad in ("radio cell 1a2 1", "radio cell 1a2b3 1", "radio cell 1a2b", "radio cell zzzz 1",
                    "radio cell 1a2b 123456789", "radio cell 1a2b 12g"):
            self.assertEqual(s.control(bad),
                             "err usage: radio cell <tac: 4 hex digits> <ci: 1..8 hex digits>", bad)

    def test_cereg_max_fallback(self):
        s = self.sim
        s.at("ATE0")
        self.assertEqual(s.control("cereg-max 2"), "ok")
        for n in (5, 4, 3):
            self.assertEqual(s.at("AT+CEREG=%d" % n), b"\r\nERROR\r\n", n)
        self.assertEqual(s.state()["cereg"], 0)
        self.assertEqual(s.at("AT+CEREG=2"), b"\r\nOK\r\n")                # the fall-back
        self.assertEqual(s.at("AT+CEREG=?"), answer(b"+CEREG: (0-2)", b"OK"))
        self.assertEqual(s.state()["cereg"], 2)
        s.at("AT+CMEE=1")
        self.assertEqual(s.at("AT+CEREG=5"), b"\r\n+CME ERROR: 50\r\n")
        self.assertEqual(s.state()["cereg"], 2)                             # a refusal keeps n
        s.control("reset")                                                  # sticky; n forgotten
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL)
        self.assertEqual(s.state()["cereg"], 0)
        s.at("ATE0")
        self.assertEqual(s.at("AT+CEREG=3"), b"\r\nERROR\r\n")
        self.assertEqual(s.control("cereg-max 5"), "ok")
        self.assertEqual(s.at("AT+CEREG=5"), b"\r\nOK\r\n")
        for bad in ("cereg-max 6", "cereg-max", "cereg-max -1", "cereg-max x"):
            self.assertEqual(s.control(bad), "err usage: cereg-max <0..5>", bad)
        self.assertIn("# cereg-max 2", s.log())

    def test_signal_conversions(self):
        s = self.sim
        s.at("ATE0")
        # rsrp, rsrq, rssi -> CESQ rxlev,rsrq,rsrp and CSQ rssi (3GPP TS 27.007 tables, clamped)
        table = [((-84, -10, -74), (37, 20, 57), 19),
                 ((-140, -20, -113), (0, 0, 1), 0),
                 ((-141, -19, -111), (0, 2, 0), 1),
                 ((-139, -19, -110), (1, 2, 2), 1),
                 ((-109, -11, -109), (2, 18, 32), 2),
                 ((-45, -4, -53), (58, 32, 96), 30),
                 ((-44, -3, -51), (60, 34, 97), 31),
                 ((-30, 5, -20), (63, 34, 97), 31),
                 ((-160, -40, -150), (0, 0, 0), 0),
                 ((-100, -12, -90), (21, 16, 41), 11)]
        for (rsrp, rsrq, rssi), (i_rxlev, i_rsrq, i_rsrp), i_csq in table:
            req = "radio signal %d %d %d 3" % (rsrp, rsrq, rssi)
            self.assertEqual(s.control(req), "ok", req)
            self.assertEqual(s.at("AT+CESQ"),
                             answer(b"+CESQ: %d,99,255,255,%d,%d" % (i_rxlev, i_rsrq, i_rsrp), b"OK"), req)
            self.assertEqual(s.at("AT+CSQ"), answer(b"+CSQ: %d,99" % i_csq, b"OK"), req)
        self.assertEqual(s.control("radio signal -100 -12 -90 -3 2 3734 101 8"), "ok")
        self.assertEqual(lines_of(s.at("AT+QENG=0"))[0],
                         b'+QENG: 0,3734,2,101,"6923252",-100,-12,-90,-3,8,"69C9",2,90')
        self.assertEqual(s.control("radio signal -90 -8 -70 5"), "ok")         # the rest kept
        self.assertEqual(lines_of(s.at("AT+QENG=0"))[0],
                         b'+QENG: 0,3734,2,101,"6923252",-90,-8,-70,5,8,"69C9",2,90')
        usage = "err usage: radio signal <rsrp_dbm> <rsrq_db> <rssi_dbm> <snr_db> [ecl] [earfcn] [pci] [band]"
        bad = {"radio signal -84 -10 -74": usage, "radio signal -84 -10 -74 2 0 1 2 3 4": usage,
               "radio signal -84 -10 -74 x": "err bad snr x (-30..50)",
               "radio signal 0 -10 -74 2": "err bad rsrp 0 (-160..-20)",
               "radio signal -84 -10 -74 2 3": "err bad ecl 3 (0..2)",
               "radio signal -84 -10.5 -74 2": "err bad rsrq -10.5 (-40..10)",
               "radio signal -84 -10 -74 2 0 2506 504": "err bad pci 504 (0..503)"}
        for req, want in bad.items():
            self.assertEqual(s.control(req), want, req)
        self.assertEqual(lines_of(s.at("AT+QENG=0"))[0],                      # a refusal changes nothing
                         b'+QENG: 0,3734,2,101,"6923252",-90,-8,-70,5,8,"69C9",2,90')

    def test_unknown_and_neighbour(self):
        s = self.sim
        s.at("ATE0")
        self.assertEqual(s.control("radio unknown"), "ok")
        self.assertEqual(s.at("AT+CESQ"), answer(b"+CESQ: 99,99,255,255,255,255", b"OK"))
        self.assertEqual(s.at("AT+CSQ"), answer(b"+CSQ: 99,99", b"OK"))
        self.assertEqual(s.at("AT+QENG=0"), b"\r\nERROR\r\n")
        s.at("AT+CMEE=1")
        self.assertEqual(s.at("AT+QENG=0"), b"\r\n+CME ERROR: 30\r\n")
        self.assertEqual(s.at("AT+CEREG?"), answer(b"+CEREG: 0,1", b"OK"))    # independent of stat
        self.assertEqual(s.control("radio signal -84 -10 -74 2"), "ok")
        self.assertEqual(s.at("AT+CESQ"), answer(b"+CESQ: 37,99,255,255,20,57", b"OK"))
        self.assertEqual(s.control("radio neighbour none"), "ok")
        self.assertEqual(s.at("AT+QENG=0"), answer(QENG_DEFAULT, b"OK"))
        self.assertEqual(s.control("radio neighbour 3734 7 -101"), "ok")
        self.assertEqual(s.at("AT+QENG=0"), answer(QENG_DEFAULT, b"+QENG: 1,3734,2,7,-101", b"OK"))
        usage = "err usage: radio neighbour none|<earfcn> <pci> <rsrp_dbm>"
        for bad in ("radio neighbour", "radio neighbour 1 2", "radio neighbour 1 504 -90",
                    "radio neighbour 1 2 -10"):
            self.assertEqual(s.control(bad), usage, bad)
        for bad in ("radio", "radio stat", "radio stat 6", "radio stat x", "radio psm maybe",
                    "radio unknown 1", "radio frob"):
            self.assertTrue(s.control(bad).startswith("err usage: radio"), bad)
        events = [ln[2:] for ln in s.log() if ln.startswith("# ")]
        for ev in ("radio unknown", "radio signal -84 -10 -74 2", "radio neighbour none",
                   "radio neighbour 3734 7 -101"):
            self.assertIn(ev, events)

    def test_boot_attach(self):
        s = self.sim
        s.at("AT+CEREG=2")
        s.control("reset")                          # n=0 after the boot: the tail as before
        self.assertEqual(s.read_until(IP_LINE), PREAMBLE_BYTES + BOOT_TAIL)
        self.assertEqual((s.state()["cereg"], s.state()["stat"]), (0, 1))
        # Searching from the restart until the attach; a URC there if n was set in between.
        self.assertEqual(s.control("play reboot 0.15"), "ok")
        s.read_until(b"RDY\r\n")
        self.assertEqual(s.state()["stat"], 2)
        self.assertEqual(s.at("AT+CEREG=1"), b"AT+CEREG=1\r\r\nOK\r\n")
        self.assertEqual(s.at("AT+CEREG?"), b"AT+CEREG?\r\r\n+CEREG: 1,2\r\n\r\nOK\r\n")
        self.assertEqual(s.read_until(b"+CEREG: 1\r\n"),
                         b"\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+CEREG: 1\r\n")   # no +IP here
        self.assertEqual(s.state()["stat"], 1)
        # Denied: the attach ends in 3, and no +IP.
        self.assertEqual(s.control("radio stat 3"), "ok")
        self.assertEqual(s.read_until(b"\r\n", 1) + s.read_until(b"\r\n"), b"\r\n+CEREG: 3\r\n")   # n=1 still
        s.control("reset")
        self.assertEqual(s.read_until(b"+CPIN: READY\r\n"),
                         PREAMBLE_BYTES + BOOT_TAIL[:-len(b"\r\n" + IP_LINE)])
        self.assertEqual(s.drain(0.1), b"")
        self.assertEqual(s.state()["stat"], 3)
        # Roaming survives a replug (a module that booted and attached meanwhile).
        s.control("radio stat 5")
        s.control("unplug 0")
        s.control("replug")
        s.open_port()
        self.assertEqual(s.at("AT+CEREG?"), b"AT+CEREG?\r\r\n+CEREG: 0,5\r\n\r\nOK\r\n")

    def test_logged_counted_and_gated(self):
        s = self.sim
        cmds = ["ATE0", "AT+CEREG=5", "AT+CEREG?", "AT+CESQ", "AT+CSQ", "AT+QENG=0"]
        for c in cmds:
            s.at(c)
        self.assertEqual(s.state()["commands"], len(cmds))
        self.assertEqual([ln.split(" ", 1)[1] for ln in s.log() if not ln.startswith("# ")], cmds)
        # While downloading (the daemon's gate is closed) a radio change still prints its URC.
        s.control("play stall-downloading")
        s.read_until(b'"COAPSTART"\r\n')
        s.control("radio cell 2b3c 7")
        self.assertEqual(s.read_until(b"9\r\n"), answer(b'+CEREG: 1,"2B3C","7",9'))
        self.assertIn('# urc +CEREG: 1,"2B3C","7",9', s.log())
        s.control("reset")
        s.read_until(IP_LINE)
        # While flashing nothing is answered, but every command is logged and counted.
        s.control("play stall-updating")
        s.read_until(b'"UPDATING",40%,1,1\r\n')
        for c in ("AT+CESQ", "AT+CEREG?", "AT+QENG=0", "AT+CSQ"):
            s.send(c)
        self.assertEqual(s.drain(0.15), b"")
        self.assertEqual(s.state()["commands"], len(cmds) + 4)
        self.assertEqual(s.state()["cereg"], 0)          # the flasher booted: n forgotten
        # And while silent.
        s.control("reset")
        s.read_until(IP_LINE)
        s.control("silent on")
        s.send("AT+CESQ")
        self.assertEqual(s.drain(0.1), b"")
        self.assertEqual(s.state()["commands"], len(cmds) + 5)


if __name__ == "__main__":
    unittest.main()
