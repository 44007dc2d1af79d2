"""Conformance DUT agent for the Linux kernel: performs socket calls on command, JSON lines on
stdin, one JSON reply per line on stdout. The same protocol as tools/conformance_agent.ts (our
stack). Sockets are non-blocking; every wait has an explicit timeout in seconds.

  {"op":"listen","port":p,"backlog":b}                 -> {"id":n}
  {"op":"accept","id":n,"timeout":s}                   -> {"id":m} | {"err":"timeout"}
  {"op":"connect","host":h,"port":p,"lport":q?,"opts":o?} -> {"id":n}  (in progress)
  {"op":"wait_connect","id":n,"timeout":s}             -> {"ok":true} | {"err":"ECONNREFUSED"...}
  {"op":"send","id":n,"data":hex | "n":count}          -> {"n":sent} | {"err":...}
  {"op":"recv","id":n,"max":k,"timeout":s}             -> {"data":hex} | {"eof":true} | {"err":...}
  {"op":"shutdown","id":n}                             -> {"ok":true} | {"err":...}
  {"op":"close","id":n} / {"op":"abort","id":n}        -> {"ok":true}
  {"op":"setopt","id":n,"name":"nodelay"|"keepalive","value":v} -> {"ok":true}
  {"op":"reset"}                                        -> {"ok":true} (abort everything)
opts (connect): {"nodelay":bool, "keepalive":[idle_s, intvl_s, cnt]}.
"""
import errno
import json
import select
import socket
import struct
import sys

socks = {}
next_id = 1


def add(s):
    global next_id
    n = next_id
    next_id += 1
    socks[n] = s
    return n


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__


def wait(s, want_write, timeout):
    r, w, _ = select.select([] if want_write else [s], [s] if want_write else [], [], timeout)
    return bool(r or w)


def setopt(s, name, value):
    if name == "nodelay":
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if value else 0)
    elif name == "keepalive":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if value else 0)
        if isinstance(value, list):
            idle, intvl, cnt = value
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)
    else:
        raise ValueError(f"unknown option {name}")


def handle(c):
    op = c["op"]
    if op == "listen":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", c["port"]))
        s.listen(c.get("backlog", 16))
        s.setblocking(False)
        return {"id": add(s)}
    if op == "accept":
        ls = socks[c["id"]]
        if not wait(ls, False, c.get("timeout", 1)):
            return {"err": "timeout"}
        s, _ = ls.accept()
        s.setblocking(False)
        return {"id": add(s)}
    if op == "connect":
        s = socket.socket()
        s.setblocking(False)
        if c.get("lport"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", c["lport"]))
        for k, v in (c.get("opts") or {}).items():
            setopt(s, k, v)
        s.connect_ex((c["host"], c["port"]))
        return {"id": add(s)}
    if op == "wait_connect":
        s = socks[c["id"]]
        if not wait(s, True, c.get("timeout", 1)):
            return {"err": "timeout"}
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return {"ok": True} if e == 0 else {"err": errno.errorcode.get(e, str(e))}
    s = socks.get(c.get("id"))
    if op == "send":
        data = bytes.fromhex(c.get("data", "")) + b"x" * c.get("n", 0)
        try:
            return {"n": s.send(data)}
        except OSError as e:
            return {"err": err_name(e)}
    if op == "recv":
        if not wait(s, False, c.get("timeout", 1)):
            return {"err": "timeout"}
        try:
            b = s.recv(c.get("max", 65536))
        except OSError as e:
            return {"err": err_name(e)}
        return {"data": b.hex()} if b else {"eof": True}
    if op == "shutdown":
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            return {"err": err_name(e)}
        return {"ok": True}
    if op == "close":
        s.close()
        return {"ok": True}
    if op == "abort":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return {"ok": True}
    if op == "setopt":
        setopt(s, c["name"], c["value"])
        return {"ok": True}
    if op == "reset":
        for s in socks.values():
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass
        socks.clear()
        return {"ok": True}
    raise ValueError(f"unknown op {op}")


print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    try:
        res = handle(json.loads(line))
    except Exception as e:  # noqa: BLE001
        res = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(res), flush=True)
