/**
 * A userspace TCP/IP stack for Deno. Give a program its own network interface (a Linux TAP
 * device, or an in-memory link between two stacks) and TCP sockets shaped like
 * `Deno.listen()` and `Deno.connect()`.
 *
 * Start with `createStack({ link, address })` on `openTap()` or `createMemoryLinkPair()`; the
 * `NetStack` it returns has `listen`, `connect`, `listenDatagram`, `resolveDns`,
 * `resolveHost`, `stats` and `close`. Connections to the stack's own address and to
 * 127.0.0.0/8 stay inside it (loopback); `listen({ port: 0 })` picks a free port; hostnames
 * resolve through the `dns` option (servers, hosts map). Engine, clock, simulation and fault
 * injection internals for tests are in `./testing.ts`.
 *
 * @example Two stacks in one process
 * ```ts
 * import { createMemoryLinkPair, createStack } from "./mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const client = await createStack({ link: la, address: "10.9.0.1/24" });
 * const server = await createStack({ link: lb, address: "10.9.0.2/24" });
 * const listener = server.listen({ port: 8080 });
 * const accepted = listener.accept();
 * const conn = await client.connect({ hostname: "10.9.0.2", port: 8080 });
 * const peer = await accepted;
 * await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
 * const buf = new Uint8Array(64);
 * const n = await peer.read(buf);
 * if (n !== 18) throw new Error(`read ${n}`);
 * conn.close();
 * peer.close();
 * listener.close();
 * await client.close();
 * await server.close();
 * ```
 *
 * @example Loopback and a name from the hosts map
 * ```ts
 * import { createMemoryLinkPair, createStack } from "./mod.ts";
 * const [link] = createMemoryLinkPair();
 * await using stack = await createStack({
 *   link,
 *   address: "10.9.0.2/24",
 *   dns: { hosts: { "self.internal": "10.9.0.2" } },
 * });
 * using listener = stack.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept();
 * const conn = await stack.connect({ hostname: "localhost", port: listener.addr.port });
 * const peer = await accepted;
 * if (peer.remoteAddr.hostname !== "127.0.0.1") throw new Error("not loopback");
 * if (await stack.resolveHost("self.internal") !== "10.9.0.2") throw new Error("no name");
 * conn.close();
 * peer.close();
 * ```
 *
 * @module
 */

export { createStack, NetStack } from "./src/api/net_stack.ts";
export type { StackCloseOptions, StackOptions } from "./src/api/net_stack.ts";
export { Conn } from "./src/api/conn.ts";
export type { ConnInfo } from "./src/api/conn.ts";
export { Listener } from "./src/api/listener.ts";
export { DatagramConn } from "./src/api/datagram.ts";
export type {
  ServeArgs,
  StackHttpServer,
  StackServeHandler,
  StackServeHandlerInfo,
  StackServeOptions,
} from "./src/api/http_serve.ts";
export type { StackFetchInit } from "./src/api/http_fetch.ts";
export {
  type StackConnectTlsOptions,
  type StackListenTlsOptions,
  type StackStartTlsOptions,
  TlsListener,
} from "./src/api/tls.ts";
export { TlsConn, type TlsHandshakeInfo } from "./src/api/tls_conn.ts";
export {
  type NodeNetModule,
  type StackListenOptions,
  StackServer,
  type StackServerOptions,
} from "./src/api/node_net.ts";
export {
  type ConnectListener,
  type StackConnectOptions,
  StackSocket,
  type StackSocketOptions,
} from "./src/api/node_net_socket.ts";
export type { DnsOptions, DnsRecordType, DnsResultMap, ResolveDnsOptions } from "./src/api/dns.ts";
export { StackTrace, TRACE_LIMIT } from "./src/api/trace.ts";
export type {
  SegmentInfo,
  SegmentOptions,
  TraceEvent,
  TraceOptions,
  TraceSegmentEvent,
  TraceStateEvent,
} from "./src/api/trace.ts";
export {
  createMemoryLinkPair,
  type Link,
  type MemoryLink,
  type MemoryLinkOptions,
  type MemoryLinkStats,
  openTap,
  openTun,
  type PcapLink,
  type PcapOptions,
  type TapLink,
  type TapOptions,
  type TapStats,
  type TunLink,
  type TunOptions,
  withPcap,
} from "./src/link/mod.ts";
export {
  createGateway,
  Forward,
  type ForwardSpec,
  Gateway,
  GATEWAY_LIMITS,
  type GatewayLimits,
  type GatewayOptions,
  parseForward,
} from "./src/gateway/mod.ts";
export type { TcpOptions } from "./src/tcp/tcp_layer.ts";
export type { IsnFunction, TcpState } from "./src/tcp/types.ts";
export type { EngineKind } from "./src/kernels/engine.ts";
export type { IfaceLimits } from "./src/iface/limits.ts";
export type { CloseMode } from "./src/stack.ts";
export type { Clock } from "./src/stack_clock.ts";
export type { ChecksumFn } from "./src/link/mod.ts";
// Engine, buffer and simulation internals (Engine, VirtualClock, Simulation, withFaults...)
// are in ./testing.ts.
