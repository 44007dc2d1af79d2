"""Conformance test bench: crafts and sniffs Ethernet frames with scapy on the bench's side of
the link to the device under test (a TAP device's kernel side, or a veth end), driven by JSON
lines on stdin, one JSON reply per line on stdout.

The bench has no kernel socket and no address on its interface, so its kernel never answers
the DUT (no RSTs of its own); it answers ARP for the bench's address itself (switchable).

argv: iface bench_mac bench_ip dut_mac dut_ip

Commands:
  {"op":"send","frames":[spec,...]}          -> {"ok":true}
  {"op":"expect","match":m,"timeout":s}      -> {"frame":f|null}  (first match, removed)
  {"op":"expect_reply","match":m,"timeout":s,"frames":[spec,...]}
                                             -> {"frame":f|null,"t":t|null} (the frames are
                                                sent as soon as the match arrives)
  {"op":"collect","match":m,"duration":s}    -> {"frames":[f,...]} (every match in the window)
  {"op":"collect_reply","match":m,"duration":s,"frames":[spec,...]}
                                             -> {"frames":[f,...],"t":t} (then the frames)
  {"op":"drain"}                             -> {"ok":true}
  {"op":"arp_auto","on":bool}                -> {"ok":true}
A spec is {"tcp":{...}} / {"icmp":{...}} / {"udp":{...}} / {"arp":{...}} with optional
"ip" and "eth" overrides and "frag" (fragment payload size). A match is {"type":..., and
field equalities}. Frames are dicts (see parse()).
"""
import json
import socket
import struct
import sys
import threading
import time

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPOption, Raw, conf, fragment, raw  # noqa: E402

conf.verb = 0
IFACE, BENCH_MAC, BENCH_IP, DUT_MAC, DUT_IP = sys.argv[1:6]
ETH_P_ALL = 3
PACKET_OUTGOING = 4

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((IFACE, 0))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
# Frames are stamped with their arrival time in the kernel, not when this (slow, possibly
# descheduled) process parses them: intervals between a DUT's frames are the DUT's own.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

lock = threading.Condition()
queue = []
arp_auto = True
FLAG_ORDER = [("F", 0x01), ("S", 0x02), ("R", 0x04), ("P", 0x08), ("A", 0x10), ("U", 0x20),
              ("E", 0x40), ("C", 0x80)]


def flag_str(v):
    return "".join(c for c, b in FLAG_ORDER if v & b)


def flag_val(s):
    return sum(b for c, b in FLAG_ORDER if c in s)


def tcp_opts(t):
    out = {}
    for o in t.options:
        name, val = o[0], o[1]
        if name == "MSS":
            out["mss"] = val
        elif name == "WScale":
            out["ws"] = val
        elif name == "SAckOK":
            out["sackok"] = True
        elif name == "Timestamp":
            out["ts"] = [val[0], val[1]]
        elif name == "SAck":
            out["sack"] = [[val[i], val[i + 1]] for i in range(0, len(val) - 1, 2)]
        elif name not in ("NOP", "EOL"):
            out.setdefault("other", []).append(str(name))
    return out


def parse(data, t=None):
    f = {"t": time.monotonic() if t is None else t, "len_frame": len(data)}
    try:
        e = Ether(data)
    except Exception:  # noqa: BLE001
        f["type"] = "garbage"
        return f
    f["ethsrc"] = e.src
    f["ethdst"] = e.dst
    if ARP in e:
        a = e[ARP]
        f.update(type="arp", op=a.op, hwsrc=a.hwsrc, psrc=a.psrc, hwdst=a.hwdst, pdst=a.pdst)
        return f
    if IP not in e:
        f["type"] = "other"
        return f
    ip = e[IP]
    f.update(src=ip.src, dst=ip.dst, ttl=ip.ttl, ipid=ip.id, df=bool(ip.flags & 2),
             tos=ip.tos)
    if ip.frag != 0 or ip.flags & 1:
        f["type"] = "ipfrag"
        return f
    if TCP in ip:
        t = ip[TCP]
        payload = bytes(t.payload)
        f.update(type="tcp", sport=t.sport, dport=t.dport, seq=t.seq, ack=t.ack,
                 flags=flag_str(int(t.flags)), win=t.window, urg=t.urgptr, opts=tcp_opts(t),
                 len=len(payload), data=payload[:64].hex())
    elif ICMP in ip:
        c = ip[ICMP]
        f.update(type="icmp", itype=c.type, code=c.code, id=c.id, seq=c.seq,
                 data=bytes(c.payload)[:1500].hex())
        if c.type == 3:
            f["nexthopmtu"] = c.nexthopmtu
    elif UDP in ip:
        u = ip[UDP]
        f.update(type="udp", sport=u.sport, dport=u.dport, data=bytes(u.payload)[:64].hex())
    else:
        f["type"] = "ip"
        f["proto"] = ip.proto
    return f


def arrival(anc):
    """The kernel's receive timestamp (CLOCK_REALTIME) on the monotonic clock, or None."""
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= 16:
            sec, nsec = struct.unpack("qq", cdata[:16])
            return sec + nsec / 1e9 - (time.time() - time.monotonic())
    return None


def reader():
    while True:
        data, anc, _flags, addr = sock.recvmsg(65535, socket.CMSG_SPACE(16))
        if addr[2] == PACKET_OUTGOING:
            continue
        f = parse(data, arrival(anc))
        if (arp_auto and f.get("type") == "arp" and f["op"] == 1 and f["pdst"] == BENCH_IP):
            reply = Ether(src=BENCH_MAC, dst=f["hwsrc"]) / ARP(
                op=2, hwsrc=BENCH_MAC, psrc=BENCH_IP, hwdst=f["hwsrc"], pdst=f["psrc"])
            sock.send(raw(reply))
        with lock:
            queue.append(f)
            if len(queue) > 5000:
                del queue[:1000]
            lock.notify_all()


def build(spec):
    eth = dict(src=BENCH_MAC, dst=DUT_MAC)
    eth.update(spec.get("eth", {}))
    if "arp" in spec:
        a = dict(op=1, hwsrc=BENCH_MAC, psrc=BENCH_IP, hwdst="00:00:00:00:00:00", pdst=DUT_IP)
        a.update(spec["arp"])
        if a["op"] == 1 and "dst" not in spec.get("eth", {}):
            eth["dst"] = "ff:ff:ff:ff:ff:ff"
        return [Ether(**eth) / ARP(**a)]
    ipf = dict(src=BENCH_IP, dst=DUT_IP, flags="DF")
    ipf.update(spec.get("ip", {}))
    if "optbytes" in ipf:
        ipf["options"] = [IPOption(bytes.fromhex(ipf.pop("optbytes")))]
    if "tcp" in spec:
        t = dict(spec["tcp"])
        payload = bytes.fromhex(t.pop("data", "")) + b"x" * t.pop("n", 0)
        opts = []
        for o in t.pop("opts", []):
            name, val = o[0], o[1] if len(o) > 1 else None
            if name == "Timestamp" or name == "SAck":
                val = tuple(val)
            elif name == "SAckOK":
                val = b""
            elif isinstance(name, int):
                name, val = name, bytes.fromhex(val or "")
            opts.append((name, val))
        if "rawopts" in t:
            # option bytes as given (even malformed): in front of the payload, counted by dataofs
            raw_opts = bytes.fromhex(t.pop("rawopts"))
            payload = raw_opts + payload
            t["dataofs"] = 5 + len(raw_opts) // 4
        if "flags" in t:
            t["flags"] = flag_val(t["flags"])
        t.setdefault("window", 65535)
        l4 = TCP(options=opts, **t) / Raw(payload) if payload else TCP(options=opts, **t)
    elif "icmp" in spec:
        c = dict(spec["icmp"])
        payload = bytes.fromhex(c.pop("data", ""))
        if "quote" in spec:
            # an ICMP error quoting a datagram the DUT sent: its IP header + 8 bytes or more
            q = dict(spec["quote"])
            qlen = q.pop("qlen", 28)
            if "flags" in q:
                q["flags"] = flag_val(q["flags"])
            proto = UDP(**q.pop("udp")) if "udp" in q else TCP(**q)
            payload = raw(IP(src=DUT_IP, dst=BENCH_IP, flags="DF", id=0) / proto)[:qlen]
        l4 = ICMP(**c) / Raw(payload) if payload else ICMP(**c)
    elif "udp" in spec:
        u = dict(spec["udp"])
        payload = bytes.fromhex(u.pop("data", ""))
        l4 = UDP(**u) / Raw(payload)
    else:
        raise ValueError("empty frame spec")
    pkt = IP(**ipf) / l4
    if spec.get("rawip"):
        # an IP datagram given as hex (for crafted errors that quote a header)
        pkt = IP(bytes.fromhex(spec["rawip"]))
    if "fragments" in spec:
        # hand-made fragments: [offset, length, more-fragments] over the datagram's payload
        whole = IP(raw(pkt))
        body = raw(whole.payload)
        out = []
        for off, ln, mf in spec["fragments"]:
            f = IP(src=whole.src, dst=whole.dst, id=whole.id, proto=whole.proto,
                   flags="MF" if mf else 0, frag=off // 8) / Raw(body[off:off + ln])
            out.append(Ether(**eth) / f)
        return out
    if "frag" in spec:
        return [Ether(**eth) / f for f in fragment(pkt, fragsize=spec["frag"])]
    return [Ether(**eth) / pkt]


def matches(f, m):
    for k, v in m.items():
        if f.get(k) != v:
            return False
    return True


def take(m, timeout):
    deadline = time.monotonic() + timeout
    with lock:
        while True:
            for i, f in enumerate(queue):
                if matches(f, m):
                    del queue[i]
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            lock.wait(left)


def handle(cmd):
    global arp_auto
    op = cmd["op"]
    if op == "send":
        frames = [raw(fr) for spec in cmd["frames"] for fr in build(spec)]
        t = time.monotonic()  # before the first frame leaves: what it causes comes later
        for b in frames:
            sock.send(b)
        return {"ok": True, "t": t}
    if op == "expect":
        return {"frame": take(cmd.get("match", {}), cmd.get("timeout", 0.3))}
    if op == "expect_reply":
        # Answered here, not after a round trip through the driver: the answer's delay is
        # this process waking up, not several processes on a loaded machine.
        frames = [raw(fr) for spec in cmd["frames"] for fr in build(spec)]
        f = take(cmd.get("match", {}), cmd.get("timeout", 0.3))
        if f is None:
            return {"frame": None, "t": None}
        t = time.monotonic()
        for b in frames:
            sock.send(b)
        return {"frame": f, "t": t}
    if op == "collect":
        out = []
        end = time.monotonic() + cmd.get("duration", 0.3)
        while True:
            f = take(cmd.get("match", {}), max(0.0, end - time.monotonic()))
            if f is None:
                break
            out.append(f)
            if len(out) >= cmd.get("max", 200):
                break
        return {"frames": out}
    if op == "collect_reply":
        # As collect, then `frames` at once from here: an answer that waited for a round trip
        # through the driver could come after the DUT's probe timer on a loaded machine.
        replies = [raw(fr) for spec in cmd["frames"] for fr in build(spec)]
        out = []
        end = time.monotonic() + cmd.get("duration", 0.3)
        while True:
            f = take(cmd.get("match", {}), max(0.0, end - time.monotonic()))
            if f is None:
                break
            out.append(f)
            if len(out) >= cmd.get("max", 200):
                break
        t = time.monotonic()
        for b in replies:
            sock.send(b)
        return {"frames": out, "t": t}
    if op == "drain":
        with lock:
            queue.clear()
        return {"ok": True}
    if op == "arp_auto":
        arp_auto = bool(cmd["on"])
        return {"ok": True}
    if op == "now":
        return {"t": time.monotonic()}
    raise ValueError(f"unknown op {op}")


threading.Thread(target=reader, daemon=True).start()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    try:
        res = handle(json.loads(line))
    except Exception as e:  # noqa: BLE001
        res = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(res), flush=True)
