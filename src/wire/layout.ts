// Packet-memory layout and descriptor field indices shared by the TypeScript engines and the
// AssemblyScript sources in asm/ (which import this file). Only `export const NAME = <int>;`
// lines belong here, so that both compilers accept it.
//
// Packet memory (bytes). The WASM engine reserves [0, PKT_SIZE) below its heap
// (asc --memoryBase PKT_SIZE); the JS engine allocates an ArrayBuffer of PKT_SIZE bytes.

/** Receive descriptor: 64 int32 words written by decode(). */
export const DESC_RX = 0;
/** Transmit descriptor: 64 int32 words read by encode(). Same field indices as DESC_RX. */
export const DESC_TX = 256;
/**
 * Scratch area: SACK blocks out of the reassembly buffer (8 uint32 words at SCRATCH), the IPv6
 * addresses encode() reads (TX_IP6_SRC, TX_IP6_DST), and spare.
 */
export const SCRATCH = 512;
export const SCRATCH_SIZE = 3584;
/** IPv6 source and destination addresses that encode() puts in an IPv6 header (16 bytes each). */
export const TX_IP6_SRC = 576;
export const TX_IP6_DST = 592;
/** Transmit area: one frame is built here at a time. */
export const TX_OFF = 4096;
export const TX_SIZE = 262144;
/** Where the payload of an outgoing frame is placed; headers are written in front of it. */
export const TX_PAYLOAD_OFF = 4352;
/** Receive area: a burst of frames read from the link lands here, back to back. */
export const RX_OFF = 327680;
export const RX_SIZE = 2097152;
/** Total packet memory, a multiple of the 64 KiB WASM page. */
export const PKT_SIZE = 2424832;
export const DESC_WORDS = 64;

// ---- Descriptor field indices (int32 words). u32 values (addresses, seq, ack) are stored as
// their int32 bit pattern; read them with `>>> 0`. Absent optional fields are -1.
export const D_VERDICT = 0; // 0 = ok, else a DROP_* reason (decode); unused by encode
export const D_KIND = 1; // K_*
export const D_FRAME_OFF = 2; // offset of the Ethernet header in packet memory
export const D_FRAME_LEN = 3;
export const D_ETH_DST_HI = 4; // first 2 bytes of the MAC, big-endian
export const D_ETH_DST_LO = 5; // last 4 bytes of the MAC, big-endian
export const D_ETH_SRC_HI = 6;
export const D_ETH_SRC_LO = 7;
export const D_ETHERTYPE = 8;
export const D_VLAN = 9; // 802.1Q TCI, or -1 when untagged
export const D_L3_OFF = 10; // offset of the ARP or IPv4 header
// ARP (RFC 826), Ethernet/IPv4 only
export const D_ARP_OP = 11;
export const D_ARP_SHA_HI = 12;
export const D_ARP_SHA_LO = 13;
export const D_ARP_SPA = 14;
export const D_ARP_THA_HI = 15;
export const D_ARP_THA_LO = 16;
export const D_ARP_TPA = 17;
// IPv4 (RFC 791)
export const D_IP_HLEN = 18; // header length in bytes (IHL * 4)
export const D_IP_TOS = 19;
export const D_IP_TOTLEN = 20;
export const D_IP_ID = 21;
export const D_IP_FRAG = 22; // flags (3 bits) << 13 | fragment offset in 8-byte units
export const D_IP_TTL = 23;
export const D_IP_PROTO = 24;
export const D_IP_SRC = 25;
export const D_IP_DST = 26;
export const D_L4_OFF = 27; // offset of the IPv4 payload
export const D_L4_LEN = 28; // length of the IPv4 payload (total length - header length)
// ICMP (RFC 792)
export const D_ICMP_TYPE = 29;
export const D_ICMP_CODE = 30;
export const D_ICMP_REST = 31; // the 4 bytes after the checksum (id << 16 | seq, or next-hop MTU)
// UDP (RFC 768) and TCP share the ports
export const D_SRC_PORT = 32;
export const D_DST_PORT = 33;
export const D_UDP_LEN = 34;
// TCP (RFC 9293 section 3.1)
export const D_TCP_SEQ = 35;
export const D_TCP_ACK = 36;
export const D_TCP_HLEN = 37; // data offset in bytes
export const D_TCP_FLAGS = 38; // CWR ECE URG ACK PSH RST SYN FIN = bits 7..0
export const D_TCP_WND = 39; // raw 16-bit window (unscaled)
export const D_TCP_URG = 40;
export const D_OPT_MSS = 41; // -1 absent
export const D_OPT_WS = 42; // window scale shift, -1 absent
export const D_OPT_SACK_OK = 43; // 1 when SACK-permitted present, else 0
export const D_OPT_TS = 44; // 1 when timestamps present, else 0
export const D_OPT_TSVAL = 45;
export const D_OPT_TSECR = 46;
export const D_OPT_SACK_N = 47; // number of SACK blocks (0..4)
export const D_OPT_SACK = 48; // 8 words: left0 right0 left1 right1 ...
export const D_PAYLOAD_OFF = 56; // offset of the L4 payload (TCP data, UDP data, ICMP data after 8 bytes)
export const D_PAYLOAD_LEN = 57;
// IPv6 (RFC 8200 section 3). The other IPv6 fields share the IPv4 words: D_IP_TOS is the
// traffic class, D_IP_TTL the hop limit, D_IP_TOTLEN 40 + payload length, D_IP_HLEN the bytes
// from the IPv6 header to the upper-layer header (40 + extension headers), D_IP_PROTO the
// upper-layer Next Header value, D_IP_ID the fragment identification and D_IP_FRAG the
// fragment header's offset word (offset << 3 | M) when a fragment header is present. D_IP_SRC
// and D_IP_DST stay 0: the addresses are read in place at mem[D_L3_OFF + 8, + 24) and
// mem[D_L3_OFF + 24, + 40). On encode they are taken from TX_IP6_SRC and TX_IP6_DST.
export const D_IP6_FLOW = 58; // flow label (20 bits)
export const D_IP6_FRAG_HDR = 59; // offset of the fragment header in packet memory, 0 when none
export const D_IP6_PTR = 60; // ICMPv6 Parameter Problem pointer (from the IPv6 header), see below
export const D_IP6_EXT = 61; // EXT6_* bits: the extension headers seen

// ---- Kinds (D_KIND)
export const K_NONE = 0;
export const K_ARP = 1;
export const K_ICMP = 2;
export const K_UDP = 3;
export const K_TCP = 4;
export const K_IPV4_OTHER = 5; // IPv4 with another protocol number: IP fields valid
export const K_IPV4_FRAGMENT = 6; // a fragment (MF set or offset > 0): IP fields valid, L4 not parsed
export const K_ETH_OTHER = 7; // another EtherType: Ethernet fields valid
export const K_ICMP6 = 8; // ICMPv6 (RFC 4443) over IPv6
export const K_UDP6 = 9; // UDP over IPv6
export const K_TCP6 = 10; // TCP over IPv6
export const K_IPV6_FRAGMENT = 11; // an IPv6 fragment (offset > 0 or M): L4 not parsed
// Another upper layer (D_IP_PROTO; 59 = No Next Header). D_IP6_PTR points at the Next Header
// byte that named it, for a Parameter Problem code 1 (RFC 8200 section 4).
export const K_IPV6_OTHER = 12;

// ---- IPv6 extension headers seen (D_IP6_EXT bits)
export const EXT6_HOP_BY_HOP = 1;
export const EXT6_ROUTING = 2;
export const EXT6_FRAGMENT = 4;
export const EXT6_DEST_OPTS = 8;

// ---- TCP flag bits
export const F_FIN = 1;
export const F_SYN = 2;
export const F_RST = 4;
export const F_PSH = 8;
export const F_ACK = 16;
export const F_URG = 32;
export const F_ECE = 64;
export const F_CWR = 128;

// ---- Flags of decode (WireOps.decode in src/kernels/engine.ts)
// The link vouches for the TCP/UDP checksum (a TAP device with offloads: the kernel made the
// segment here or verified it), which decode then does not sum again.
export const DECODE_L4_VALID = 1;

// ---- Drop reasons (D_VERDICT). Names in src/wire/drop.ts; keep both lists in step.
export const DROP_NONE = 0;
export const DROP_ETH_TRUNCATED = 1;
export const DROP_VLAN_TRUNCATED = 2;
export const DROP_ARP_TRUNCATED = 3;
export const DROP_ARP_UNSUPPORTED = 4; // hardware type not Ethernet, protocol not IPv4, bad lengths
export const DROP_IP_TRUNCATED = 5;
export const DROP_IP_BAD_VERSION = 6;
export const DROP_IP_BAD_HLEN = 7;
export const DROP_IP_BAD_TOTLEN = 8;
export const DROP_IP_BAD_CHECKSUM = 9;
export const DROP_ICMP_TRUNCATED = 10;
export const DROP_ICMP_BAD_CHECKSUM = 11;
export const DROP_UDP_TRUNCATED = 12;
export const DROP_UDP_BAD_LENGTH = 13;
export const DROP_UDP_BAD_CHECKSUM = 14;
export const DROP_TCP_TRUNCATED = 15;
export const DROP_TCP_BAD_HLEN = 16;
export const DROP_TCP_BAD_CHECKSUM = 17;
export const DROP_TCP_OPT_OVERRUN = 18; // an option runs past the header
export const DROP_TCP_OPT_BAD_LENGTH = 19; // option length 0 or 1
export const DROP_TCP_OPT_BAD_SIZE = 20; // MSS/WS/SACK-permitted/TS/SACK with the wrong length
export const DROP_FRAME_TOO_LONG = 21; // frame larger than the engine accepts (65535 + 18)
// IPv6 (RFC 8200). Drops marked (PP n) carry D_IP6_PTR for an ICMPv6 Parameter Problem with
// code n (RFC 4443 section 3.4); the caller decides whether to send it.
export const DROP_IP6_TRUNCATED = 22; // fewer than 40 bytes
export const DROP_IP6_BAD_VERSION = 23;
export const DROP_IP6_BAD_LENGTH = 24; // payload length beyond the bytes received, or 0 (jumbo)
export const DROP_IP6_EXT_TRUNCATED = 25; // an extension header runs past the payload
export const DROP_IP6_TOO_MANY_HEADERS = 26; // more extension headers than EXT6_MAX
export const DROP_IP6_HBH_NOT_FIRST = 27; // hop-by-hop options after another header (PP 1)
export const DROP_IP6_OPT_DISCARD = 28; // unknown option, action 01: discard silently
export const DROP_IP6_OPT_UNKNOWN = 29; // unknown option, action 10 or 11 (PP 2; 11: unicast only)
export const DROP_IP6_OPT_OVERRUN = 30; // an option runs past its header
export const DROP_IP6_ROUTING_UNKNOWN = 31; // unknown routing type, segments left > 0 (PP 0)
export const DROP_IP6_FRAG_BAD_LENGTH = 32; // M set, fragment length not a multiple of 8 (PP 0)
export const DROP_IP6_FRAG_TOO_LONG = 33; // offset + length beyond 65535 (PP 0)
export const DROP_ICMP6_TRUNCATED = 34;
export const DROP_ICMP6_BAD_CHECKSUM = 35;
export const DROP_UDP6_ZERO_CHECKSUM = 36; // RFC 8200 section 8.1: UDP over IPv6 must be checksummed
export const DROP_COUNT = 37; // number of reasons the wire layer knows; higher layers start here

/** The most extension headers decode walks before dropping (DROP_IP6_TOO_MANY_HEADERS). */
export const EXT6_MAX = 8;

// ---- Encode errors (encode returns -ENC_* when it cannot build the frame)
export const ENC_BAD_KIND = 1;
export const ENC_TOO_LONG = 2; // IPv4 total length would exceed 65535
export const ENC_BAD_OPTIONS = 3; // options do not fit in 40 bytes
export const ENC_NO_HEADROOM = 4; // headers would start before packet memory offset 0
// IPv6 payload length would exceed 65535: ENC_TOO_LONG as well.
