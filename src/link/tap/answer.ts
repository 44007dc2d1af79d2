/**
 * Which frames we send the peer is likely to answer at once, for busy polling after frames sent
 * (`TapOptions.busyPollAfter: "send"`, wait.ts): a TCP segment with data or SYN (the answer,
 * the acknowledgment of a request, the handshake's next step) and any UDP datagram (a DNS
 * answer, an echo). Not a TCP segment without data and SYN (a pure ACK, a FIN, a RST: a peer
 * has nothing to send back at once, and a kernel's immediate ACK of our FIN arrives within our
 * own write, read in the same pass), nor ARP or ICMP. Reads the headers in place; a frame too
 * short for them counts as not answered.
 *
 * @module
 */

const ETH = 14;
const IPV6_HEADER = 40;
const TCP = 6;
const UDP = 17;
const SYN = 0x02;

/** True when the Ethernet frame `b[off, off + len)` is likely to be answered at once. */
export function expectsAnswer(b: Uint8Array, off: number, len: number): boolean {
  if (len < ETH + 20) return false;
  const type = (b[off + 12]! << 8) | b[off + 13]!;
  let proto: number;
  let l4: number; // offset of the transport header
  let l4len: number; // transport header and payload bytes
  if (type === 0x0800) {
    const ihl = (b[off + ETH]! & 0x0f) * 4;
    proto = b[off + ETH + 9]!;
    l4 = off + ETH + ihl;
    l4len = ((b[off + ETH + 2]! << 8) | b[off + ETH + 3]!) - ihl;
  } else if (type === 0x86dd) {
    if (len < ETH + IPV6_HEADER) return false;
    proto = b[off + ETH + 6]!; // extension headers: not what our stack sends
    l4 = off + ETH + IPV6_HEADER;
    l4len = (b[off + ETH + 4]! << 8) | b[off + ETH + 5]!;
  } else return false;
  if (proto === UDP) return true;
  if (proto !== TCP || l4 + 20 > off + len) return false;
  const doff = (b[l4 + 12]! >> 4) * 4;
  return (b[l4 + 13]! & SYN) !== 0 || l4len > doff;
}
