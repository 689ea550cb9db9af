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
        m = re.fullmatch(r"ok echo=([01]) registered=([01]) updating=([01]) silent=([01]) commands=(\d+)", rep)
        if not m:
            raise AssertionError("bad state reply %r" % rep)
        keys = ("echo", "registered", "updating", "silent", "commands")
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
        self.sim = Sim(self.tmpdir.name, *self.extra)

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
        self.assertEqual(s.state(), {"echo": 1, "registered": 0, "updating": 0, "silent": 0, "commands": 0})
        # A second client, interleaved with the first.
        c2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c2.settimeout(5)
        c2.connect(s.ctlpath)
        c2.sendall(b"ping\nstate\n")
        buf = b""
        while buf.count(b"\n") < 2:
            buf += c2.recv(4096)
        self.assertEqual(buf, b"ok\nok echo=1 registered=0 updating=0 silent=0 commands=0\n")
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


if __name__ == "__main__":
    unittest.main()
