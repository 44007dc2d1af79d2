/**
 * Throwaway certificates for the TLS and HTTPS tests, made at test time with `openssl` in a
 * temporary directory: a CA, a server certificate signed by it for the given IP addresses and
 * names, and a second, unrelated CA (for "unknown issuer" cases).
 */

/** PEM texts and the directory holding them as files (ca.pem, server.pem, server.key...). */
export interface TestCerts {
  /** The directory with the files; remove it with `cleanup()`. */
  dir: string;
  /** The CA certificate. */
  ca: string;
  /** The server certificate (signed by `ca`). */
  cert: string;
  /** The server's private key. */
  key: string;
  /** A CA that did not sign `cert`. */
  otherCa: string;
  /** Delete the directory. */
  cleanup(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Make a CA and a server certificate whose subjectAltName lists `ips` and `names`. */
export async function makeTestCerts(ips: string[], names: string[] = []): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "dtcp-certs-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=deno-tcp test CA",
  ]);
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "other.key",
    "-out",
    "other.pem",
    "-days",
    "2",
    "-subj",
    "/CN=deno-tcp other CA",
  ]);
  await openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    `/CN=${names[0] ?? ips[0] ?? "server"}`,
  ]);
  const san = [...ips.map((ip) => `IP:${ip}`), ...names.map((n) => `DNS:${n}`)].join(",");
  await Deno.writeTextFile(`${dir}/ext.cnf`, `subjectAltName=${san}\n`);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ]);
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
  return {
    dir,
    ca: await read("ca.pem"),
    cert: await read("server.pem"),
    key: await read("server.key"),
    otherCa: await read("other.pem"),
    cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}
