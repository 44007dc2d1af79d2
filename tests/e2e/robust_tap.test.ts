/**
 * Attacks from the wire: inside a network namespace the test creates (and deletes), the Linux
 * kernel holds a real TCP connection to our stack through a TAP device, and scapy, next to it,
 * crafts the hostile segments with that connection's live numbers: an out-of-window RST
 * (dropped), an in-window RST and a SYN (answered with a challenge ACK, RFC 5961 sections 3
 * and 4), data with an unacceptable ACK (discarded, RFC 5961 section 5), then a SYN flood from
 * spoofed sources (RFC 4987: bounded half-open queue). The kernel's connection must survive
 * everything byte-exact, and a fresh kernel client must get in after the flood.
 * Needs root, /dev/net/tun and python3-scapy (`deno task setup` installs it).
 */

import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";

const KERNEL = "10.88.0.1", OURS = "10.88.0.2";
const PYTHON = "/usr/bin/python3";

const SCAPY = String.raw`
import json, socket, sys, time
from scapy.all import IP, TCP, AsyncSniffer, conf, send
conf.verb = 0
iface, ours = sys.argv[1], sys.argv[2]
out = {}
pkts = []
sn = AsyncSniffer(iface=iface, filter="tcp", store=False, prn=pkts.append)
sn.start()
time.sleep(0.5)
s = socket.create_connection((ours, 80), timeout=5)
s.sendall(b"hello")
out["echo1"] = s.recv(100).decode()
sport = s.getsockname()[1]
time.sleep(0.3)

def mine():
    return [p for p in list(pkts) if p[IP].src == ours and p[TCP].dport == sport]

def kernel_next():
    ps = [p for p in list(pkts) if p[IP].src != ours and p[TCP].sport == sport]
    p = ps[-1]
    return (p[TCP].seq + len(bytes(p[TCP].payload))) % 2**32, p[TCP].ack

def probe(name, seg):
    before = len(mine())
    send(IP(src=sys.argv[3], dst=ours) / seg)
    time.sleep(0.4)
    new = mine()[before:]
    out[name] = [str(p[TCP].flags) for p in new]
    out[name + "-acks"] = [p[TCP].ack for p in new]

nxt, theirs = kernel_next()
out["nxt"] = nxt
probe("rst-out", TCP(sport=sport, dport=80, flags="R", seq=(nxt + 2**30) % 2**32))
probe("rst-in", TCP(sport=sport, dport=80, flags="R", seq=(nxt + 1000) % 2**32))
probe("syn", TCP(sport=sport, dport=80, flags="S", seq=(nxt + 12345) % 2**32))
probe("bad-ack", TCP(sport=sport, dport=80, flags="PA", seq=nxt, ack=(theirs + 100000) % 2**32) / b"EVIL!")
s.sendall(b"world")
time.sleep(0.2)
out["echo2"] = s.recv(100).decode()

send([IP(src="10.88.0.%d" % (100 + i % 100), dst=ours) / TCP(sport=1024 + i, dport=80, flags="S", seq=i * 7919) for i in range(1000)])
time.sleep(0.5)
t0 = time.time()
s2 = socket.create_connection((ours, 80), timeout=20)
s2.sendall(b"again")
out["echo3"] = s2.recv(100).decode()
out["connect-after-flood-s"] = round(time.time() - t0, 2)
s.sendall(b"still")
out["echo4"] = s.recv(100).decode()
s.close()
s2.close()
sn.stop()
print(json.dumps(out))
`;

const SCAPY_LINK = String.raw`
import json, socket, sys, time
from scapy.all import ARP, Ether, IP, UDP, Raw, conf, fragment, send, sendp
conf.verb = 0
iface, ours, ourmac, kernel = sys.argv[1:5]
out = {}
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((kernel, 5555))
u.settimeout(1.0)
def echo(data):
    try:
        u.sendto(data, (ours, 7))
        return u.recvfrom(70000)[0].decode()[:10]
    except socket.timeout:
        return None
out["before"] = echo(b"ping1")
fake = "02:66:66:66:66:66"
# Unsolicited reply and gratuitous ARP: the kernel's address at a fake MAC.
sendp(Ether(dst=ourmac, src=fake) / ARP(op=2, psrc=kernel, hwsrc=fake, pdst=ours, hwdst=ourmac), iface=iface)
sendp(Ether(dst="ff:ff:ff:ff:ff:ff", src=fake) / ARP(op=1, psrc=kernel, hwsrc=fake, pdst=kernel), iface=iface)
sendp(Ether(dst=ourmac, src=fake) / ARP(op=1, psrc=kernel, hwsrc=fake, pdst=ours), iface=iface)
time.sleep(0.2)
out["after-spoof"] = echo(b"ping2")
# Overlapping fragments of one UDP datagram (RFC 5722 policy: the whole datagram is dropped).
body = b"A" * 64
udp = bytes(UDP(sport=5555, dport=7, len=8 + 64) / Raw(body))
send(IP(src=kernel, dst=ours, id=4242, flags="MF", frag=0, proto=17) / Raw(udp[:40]))
send(IP(src=kernel, dst=ours, id=4242, flags="MF", frag=3, proto=17) / Raw(b"B" * 24))
send(IP(src=kernel, dst=ours, id=4242, flags=0, frag=5, proto=17) / Raw(udp[40:]))
try:
    out["overlap"] = u.recvfrom(70000)[0].decode()[:10]
except socket.timeout:
    out["overlap"] = None
# A clean fragmented datagram still gets through (and its echo back, fragmented by us).
big = IP(src=kernel, dst=ours, id=4343) / UDP(sport=5555, dport=7) / Raw(b"C" * 3000)
send(fragment(big, fragsize=1000))
try:
    out["fragmented"] = len(u.recvfrom(70000)[0])
except socket.timeout:
    out["fragmented"] = None
print(json.dumps(out))
`;

async function scapyMissing(): Promise<string | null> {
  try {
    const r = await new Deno.Command(PYTHON, { args: ["-c", "import scapy.all"] }).output();
    return r.success ? null : "python3-scapy is not installed (deno task setup)";
  } catch {
    return `${PYTHON} is missing`;
  }
}

Deno.test({
  name: "robust tap: scapy blind RST, SYN, data and SYN flood against our stack",
  ignore: tapIgnore(),
  sanitizeResources: false, // the TAP fd is closed by withTapNamespace after the test body
  async fn() {
    if (!requireTapOrSkip()) return;
    const missing = await scapyMissing();
    if (missing !== null) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(missing);
      console.warn(`skipped: ${missing}`);
      return;
    }
    await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link, ifname }) => {
      const stack = await createStack({
        link,
        address: `${OURS}/24`,
        engine: "wasm",
        tcp: { synBacklog: 32, synRetries: 1, syncookies: false }, // half-opens expire in ~3 s
        limits: { arpRetries: 1, arpRetryMs: 300 },
      });
      const listener = stack.listen({ port: 80 });
      const serving = (async () => {
        for await (const conn of listener) {
          (async () => {
            const buf = new Uint8Array(1024);
            try {
              for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
                await conn.write(buf.subarray(0, n));
              }
            } catch { /* reset: counted by the stack */ }
            conn.close();
          })();
        }
      })();
      let maxConns = 0;
      const watch = setInterval(() => {
        maxConns = Math.max(maxConns, stack.driver.tcp.connectionCount);
      }, 20);
      try {
        const r = await ns.run([PYTHON, "-c", SCAPY, ifname, OURS, KERNEL]);
        assert.equal(r.code, 0, `scapy failed: ${r.stderr}`);
        const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
        assert.equal(out["echo1"], "hello");
        assert.deepEqual(out["rst-out"], [], "an out-of-window RST must get no answer");
        assert.deepEqual(out["rst-in"], ["A"], "an in-window RST gets one challenge ACK");
        assert.deepEqual(out["rst-in-acks"], [out["nxt"]]);
        assert.deepEqual(out["syn"], ["A"], "a SYN on the connection gets a challenge ACK");
        assert.equal(out["echo2"], "world", "the injected bytes were not delivered");
        assert.equal(out["echo3"], "again", "a real client gets in after the flood");
        assert.equal(out["echo4"], "still", "the first connection survived");
        const s = stack.stats();
        assert.ok(s["tcp-syn-backlog-full"]! > 0, "the flood filled the half-open queue");
        assert.ok(maxConns <= 32 + 2, `${maxConns} connections at once`);
      } finally {
        clearInterval(watch);
        listener.close();
        await serving.catch(() => {});
        await stack.close();
      }
    });
  },
});

Deno.test({
  name: "robust tap: scapy ARP spoofing and overlapping fragments against our stack",
  ignore: tapIgnore(),
  sanitizeResources: false, // the TAP fd is closed by withTapNamespace after the test body
  async fn() {
    if (!requireTapOrSkip()) return;
    const missing = await scapyMissing();
    if (missing !== null) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(missing);
      console.warn(`skipped: ${missing}`);
      return;
    }
    await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link, ifname }) => {
      const stack = await createStack({ link, address: `${OURS}/24`, engine: "wasm" });
      const udp = stack.listenDatagram({ port: 7 });
      const echoing = (async () => {
        for await (const [data, addr] of udp) await udp.send(data, addr);
      })();
      try {
        const r = await ns.run([PYTHON, "-c", SCAPY_LINK, ifname, OURS, stack.mac, KERNEL]);
        assert.equal(r.code, 0, `scapy failed: ${r.stderr}`);
        const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
        assert.equal(out["before"], "ping1");
        assert.equal(out["after-spoof"], "ping2", "a spoofed ARP redirected our replies");
        assert.equal(out["overlap"], null, "an overlapped datagram was delivered");
        assert.equal(out["fragmented"], 3000, "a clean fragmented datagram did not get through");
        const s = stack.stats();
        assert.ok(s["frag-overlap"]! >= 1, "the overlap was not counted");
        assert.ok((s["arp-conflict"] ?? 0) + (s["arp-ignored"] ?? 0) >= 1, "the spoof was counted");
      } finally {
        udp.close();
        await echoing.catch(() => {});
        await stack.close();
      }
    });
  },
});
