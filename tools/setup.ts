/**
 * One-time machine setup run by `deno task test`, `deno task tap-demo` and `.ci/run`:
 * installs the Debian tools that the TAP tests, demos and benchmarks drive (only the ones
 * missing, only when running as root with apt-get available). Without root it prints what
 * is missing; the tests that need those tools then skip with a clear message.
 *
 *   deno run -A tools/setup.ts [--quiet]
 *
 * @module
 */

/** Commands we need, and the Debian package that provides each. */
const NEEDED: ReadonlyArray<readonly [command: string, pkg: string]> = [
  ["ip", "iproute2"],
  ["ping", "iputils-ping"],
  ["arping", "arping"],
  ["tcpdump", "tcpdump"],
  ["tshark", "tshark"],
  ["curl", "curl"],
  ["socat", "socat"],
  ["iperf3", "iperf3"],
  ["python3", "python3"],
  ["ss", "iproute2"],
  ["slirp4netns", "slirp4netns"],
  ["ab", "apache2-utils"],
  ["nmap", "nmap"],
  ["openssl", "openssl"],
  ["ethtool", "ethtool"],
  ["dnsmasq", "dnsmasq-base"],
  ["hping3", "hping3"],
  ["radvd", "radvd"],
];
/** Python modules we need, and their Debian packages. */
const PY_MODULES: ReadonlyArray<readonly [module: string, pkg: string]> = [
  ["scapy", "python3-scapy"],
];

const quiet = Deno.args.includes("--quiet");

async function run(cmd: string[], env?: Record<string, string>): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      env,
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function have(command: string): Promise<boolean> {
  return await run(["sh", "-c", `command -v ${command}`]);
}

const missing = new Set<string>();
for (const [command, pkg] of NEEDED) if (!(await have(command))) missing.add(pkg);
for (const [mod, pkg] of PY_MODULES) {
  // Debian's python3 (scapy from apt lands in its dist-packages, not in a pyenv or venv).
  if (!(await run(["/usr/bin/python3", "-c", `import ${mod}`]))) missing.add(pkg);
}

if (missing.size === 0) {
  if (!quiet) console.log("setup: all tools present");
  Deno.exit(0);
}

const pkgs = [...missing].sort();
const isRoot = Deno.uid?.() === 0;
if (!isRoot || !(await have("apt-get"))) {
  console.log(
    `setup: missing Debian packages: ${pkgs.join(" ")}. Install them as root ` +
      `(apt-get install ${pkgs.join(" ")}); tests that need them will skip`,
  );
  Deno.exit(0);
}

console.log(`setup: installing Debian packages: ${pkgs.join(" ")}`);
const env = { DEBIAN_FRONTEND: "noninteractive" };
if (!(await run(["apt-get", "update", "-qq"], env))) {
  console.error("setup: apt-get update failed");
  Deno.exit(1);
}
const ok = await run(
  ["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...pkgs],
  env,
);
if (!ok) {
  console.error(`setup: apt-get install ${pkgs.join(" ")} failed`);
  Deno.exit(1);
}
console.log("setup: done");
