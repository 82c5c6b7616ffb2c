"""TCP as Zeek's TCP session adapter follows it: endpoint states, sequence space, history letters.

A port of the packet-by-packet logic of Zeek's ``TCPSessionAdapter``/``TCP_Endpoint`` (see
docs/design.md, "Events as Zeek writes them"): each side of a connection is an :class:`Endpoint`
with a state (INACTIVE, SYN_SENT, ... RESET), its start, last and acknowledged sequence numbers
(kept as unbounded integers, so 32-bit wraps need no bookkeeping) and its reassembler
(:mod:`range.events.reassembly`). :func:`process` takes one segment and returns what the
connection must do (close, be replaced); :func:`conn_state` is conn.log's ``conn_state``.
The session side (flips, timers, removal) lives in :mod:`range.events.sessions`.
"""
from __future__ import annotations

import re

from range.events.reassembly import Reassembler

INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
HANDSHAKE = (INACTIVE, SYN_SENT, SYN_ACK_SENT)
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MASK = 0xFFFFFFFF
TOO_LARGE = 1 << 20
INACTIVITY_ESTABLISHED = 300.0  # tcp_inactivity_timeout, once the handshake is over

# history masks (Zeek's HIST_*); the responder's bits sit 16 above the originator's
H_SYN, H_FIN, H_RST, H_FINRST, H_MULTI, H_ACK, H_DATA = 1, 2, 4, 8, 16, 32, 64
RSTOS0 = re.compile(r"^\^?S[^HAFGIQ]*R.*")


def seq_delta(a: int, b: int) -> int:
    """a - b in 32-bit sequence space, as a signed number."""
    d = (a - b) & MASK
    return d - 0x100000000 if d & 0x80000000 else d


class Endpoint:
    # as in Conn: defaults on the class, set on the instance when they change
    prev_state = INACTIVE
    start = last = ack = 0           # absolute (unwrapped) sequence numbers
    fin_cnt = 0
    fin_seq = 0                      # relative
    did_close = False
    hist_syn = hist_fin = hist_rst = 0
    scaled: dict | None = None       # letter -> [count, next threshold]
    start_time = last_time = 0.0
    reasm: Reassembler | None = None  # made at the first byte or acknowledgement past the SYN
    peer: "Endpoint | None" = None

    def __init__(self, conn, is_orig: bool):
        self.conn = conn
        self.is_orig = is_orig
        self.state = INACTIVE

    # ---- Zeek's TCP_Endpoint ---------------------------------------------------------------
    def set_state(self, new: int) -> None:
        if new != self.state:
            if new not in HANDSHAKE and self.state in HANDSHAKE and self.peer.state in HANDSHAKE:
                self.conn.inactivity = INACTIVITY_ESTABLISHED
            self.prev_state, self.state = self.state, new

    def reassembler(self) -> Reassembler:
        self.reasm = Reassembler(self)
        return self.reasm

    def pending(self) -> bool:
        """Bytes seen above what was delivered (a hole holds them back)?"""
        last = self.last - self.start - (1 if self.fin_cnt else 0)
        return last > (self.reasm.seq if self.reasm is not None else 1)

    def init_seq(self, start: int, last: int) -> None:
        self.start = self.ack = start
        self.last = last

    def no_data_acked(self) -> bool:
        return self.ack in (self.start, self.start + 1)

    def size(self) -> int:
        if (self.prev_state == SYN_SENT and self.state == RESET and self.peer.state == INACTIVE
                and not self.no_data_acked()):
            return 0
        size = max(self.last, self.ack) - self.start
        if size < 0:
            return 0
        if size:
            size -= 1
        if self.fin_cnt and size:
            size -= 1
        return size

    def check(self, mask: int, code: str) -> bool:
        return self.conn.check(mask, code, self.is_orig)

    def add(self, code: str) -> None:
        self.conn.add(code, self.is_orig)

    def scaled_entry(self, code: str) -> None:
        """Zeek's ScaledHistoryEntry: the letter at this endpoint's 1st, 10th, 100th... event."""
        if self.scaled is None:
            self.scaled = {}
        c = self.scaled.setdefault(code, [0, 1])
        c[0] += 1
        if c[0] == c[1]:
            self.add(code)
            c[1] *= 10


def _init_endpoint(e: Endpoint, fl: int, seq: int, seg_len: int, t: float) -> None:
    s = e.state
    if s == INACTIVE:
        if fl & SYN:
            e.init_seq(seq, seq + seg_len)
        else:  # a partial connection: number as though a SYN came first
            e.init_seq((seq - 1) & MASK, seq)
            if seq == 0:
                e.start, e.ack, e.last = -1, -1, 0
        e.start_time = t
    elif fl & SYN:
        if s in (SYN_SENT, SYN_ACK_SENT, ESTABLISHED, PARTIAL):
            if s in (ESTABLISHED, PARTIAL) or seq != e.start & MASK:
                e.init_seq(seq, seq + seg_len)
        elif s == RESET and e.prev_state == INACTIVE:
            e.init_seq(seq, seq + seg_len)


def _history(e: Endpoint, fl: int, rel: int, length: int) -> None:
    bits = (fl & SYN) // SYN + (fl & FIN) + (fl & RST) // RST
    if bits > 1:
        if fl & FIN and fl & RST:
            e.check(H_FINRST, "I")
        else:
            e.check(H_MULTI, "Q")
    elif bits == 1:
        if fl & SYN:
            code = "H" if fl & ACK else "S"
            if e.check(H_SYN, code) and rel != e.hist_syn:
                e.add(code)
            e.hist_syn = rel
        elif fl & FIN:
            if e.check(H_FIN, "F") and rel + length != e.hist_fin:
                e.add("F")
            e.hist_fin = rel + length
        else:
            if e.check(H_RST, "R") and rel != e.hist_rst:
                e.add("R")
            e.hist_rst = rel
    elif length:
        e.check(H_DATA, "D")
    elif fl & ACK:
        e.check(H_ACK, "A")


def _update_last_seq(e: Endpoint, end_abs: int, fl: int, length: int) -> int:
    delta = end_abs - e.last
    if fl & (SYN | RST) and (delta > TOO_LARGE or delta < -TOO_LARGE):
        pass
    elif fl & FIN and e.last == e.start + 1:
        e.last = end_abs
    elif e.state == RESET:
        pass
    elif delta > 0:
        e.last = end_abs
    elif length > 0:
        e.scaled_entry("T")
    return delta


CLOSE, EVENT = 1, 2  # what process() returns: the segment closed its side; that is worth an event


def process(conn, e: Endpoint, fl: int, seq: int, ack: int, length: int, window: int, t: float,
            data: bytes | None, captured: bool = True) -> int:
    """One segment from endpoint ``e`` (Zeek's ``TCPSessionAdapter::Process``, minus the events
    nobody logs). Returns CLOSE|EVENT bits for the session's ConnectionClosed."""
    peer = e.peer
    conn.partial_status(fl, e.is_orig)
    syn, fin, rst = fl & SYN, fl & FIN, fl & RST
    seg_len = (0 if rst else length) + (1 if syn else 0) + (1 if fin else 0)
    _init_endpoint(e, fl, seq, seg_len, t)
    base = e.last + seq_delta(seq, e.last & MASK)
    rel = base - e.start
    _history(e, fl, rel, length)
    if window == 0 and not rst and peer.state != CLOSED and e.state != RESET:
        e.scaled_entry("W")
    if not (e.did_close and peer.did_close):
        conn.last = t
    if fin:
        e.fin_cnt += 1
        e.fin_seq = rel + seg_len
    rel_ack = 0
    if fl & ACK:
        if peer.state == INACTIVE:
            rel_ack = 1
            a = (ack - 1) & MASK
            peer.init_seq(a, a)
        else:
            ack_abs = peer.ack + seq_delta(ack, peer.ack & MASK)
            rel_ack = ack_abs - peer.start
            if rel_ack < 0:
                rel_ack = 0
            elif not rst and ack_abs > peer.ack and not (ack == 0 and ack_abs - peer.ack > TOO_LARGE):
                peer.ack = ack_abs
    delta_last = _update_last_seq(e, base + seg_len, fl, length)
    e.last_time = t
    out = _state_machine(conn, t, e, peer, seq, length, delta_last, fl)
    if rel_ack > 1:
        (peer.reasm or peer.reassembler()).ack_received(rel_ack)
        if peer.fin_cnt:
            peer.reasm.check_eof()
    if length > 0 and captured and not rst and rel >= 0:
        (e.reasm or e.reassembler()).data_sent(t, rel + 1 if syn else rel, length, data)
    if e.fin_cnt:
        (e.reasm or e.reassembler()).check_eof()
    return out


def _state_machine(conn, t, e: Endpoint, peer: Endpoint, seq, length, delta_last, fl) -> int:
    s = e.state
    out = 0
    if s == INACTIVE:
        return _inactive(conn, t, e, peer, seq, length, fl)
    if s in (SYN_SENT, SYN_ACK_SENT):
        if fl & FIN:
            e.set_state(CLOSED)
            out = CLOSE | EVENT
        if fl & RST:
            e.set_state(RESET)
            conn.is_active = False  # ConnectionReset
            out |= CLOSE
    elif s in (ESTABLISHED, PARTIAL):
        if fl & SYN and s == PARTIAL and peer.state == INACTIVE and not fl & ACK:
            e.set_state(SYN_SENT)
        if fl & FIN and not fl & RST:
            e.set_state(CLOSED)
            if peer.state == RESET and peer.prev_state == CLOSED:
                peer.set_state(CLOSED)
            out = CLOSE | EVENT
        if fl & RST:
            e.set_state(RESET)
            if peer.state != RESET or peer.prev_state != ESTABLISHED:
                conn.is_active = False  # ConnectionReset
            out |= CLOSE
    elif s == CLOSED:
        if fl & RST and peer.state != CLOSED:
            e.set_state(RESET)
            if not e.did_close:
                out = CLOSE
    return out


def _inactive(conn, t, e: Endpoint, peer: Endpoint, seq, length, fl) -> int:
    out = 0
    if fl & SYN:
        if e.is_orig:
            e.set_state(SYN_ACK_SENT if fl & ACK else SYN_SENT)
            conn.attempt_timer(t)
        else:
            if not fl & ACK and peer.state == SYN_ACK_SENT and seq == e.start & MASK:
                # a SYN/SYN-ACK reversal: turn the connection round and establish it
                conn.flip()
                peer.set_state(ESTABLISHED)
                conn.first_packet_seen |= 1
            if peer.state == SYN_SENT:
                peer.set_state(ESTABLISHED)
            e.set_state(ESTABLISHED)
    if fl & FIN:
        e.set_state(CLOSED)
        out = CLOSE | EVENT
    if fl & RST:
        e.set_state(RESET)
        is_reject = (peer.state == ESTABLISHED) if e.is_orig else peer.state in (SYN_SENT, SYN_ACK_SENT)
        out = CLOSE if is_reject else CLOSE | EVENT
    if e.state == INACTIVE:
        if not e.is_orig and length == 0 and conn.orig.state == SYN_SENT:
            pass  # an ACK of the SYN before the SYN-ACK: not yet a partial connection
        elif fl & ACK and peer.state == ESTABLISHED:
            e.set_state(ESTABLISHED)  # the SYN was missed but the SYN-ACK seen: establish
            conn.is_partial = False
            conn.first_packet_seen |= 1 if e.is_orig else 2
        else:
            e.set_state(PARTIAL)
    return out


def is_reuse(conn, fl: int, seq: int) -> bool:
    """Zeek's IsReuse: does this SYN start a new connection on the same ports?"""
    if not fl & SYN:
        return False
    orig, resp = conn.orig, conn.resp
    conn_orig = orig
    if fl & ACK:
        if orig.state != INACTIVE:
            return False
        conn_orig = resp
    if not conn.is_closed():
        if seq == conn_orig.start & MASK:
            return False
        if (not fl & ACK and conn_orig.state == SYN_ACK_SENT and resp.state == INACTIVE
                and seq == resp.start & MASK):
            return False
    return True


def conn_state(orig: Endpoint, resp: Endpoint, history: str) -> str:
    """conn.log's conn_state from the two endpoints (Zeek's ``conn_state()`` in conn/main.zeek)."""
    os_, rs = orig.state, resp.state
    o_inactive = os_ in (INACTIVE, PARTIAL)
    r_inactive = rs in (INACTIVE, PARTIAL)
    if rs == RESET:
        if os_ in (SYN_SENT, SYN_ACK_SENT) or (os_ == RESET and orig.size() == 0 and resp.size() == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os_ == RESET:
        if r_inactive:
            return "RSTOS0" if RSTOS0.match(history) else "OTH"
        return "RSTO"
    if os_ == CLOSED and rs == CLOSED:
        return "SF"
    if os_ == CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ == SYN_SENT and rs == INACTIVE:
        return "S0"
    if os_ == ESTABLISHED and rs == ESTABLISHED:
        return "S1"
    return "OTH"
