import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";

// Each case runs openTap in a child deno whose environment lacks one thing: --allow-ffi, root,
// or /dev/net/tun (hidden by a tmpfs over /dev/net in a private mount namespace). None of the
// children can create a device: each lacks the permission or the file (and the mount case only
// runs deno when the mount succeeded), so nothing ever appears in the main network namespace.

const TAP_URL = new URL("../../src/link/tap/tap.ts", import.meta.url).href;
const SCRIPT = `
import { openTap } from "${TAP_URL}";
try {
  openTap({ name: "tapz" }).close();
  console.log("opened");
} catch (e) {
  console.log(e.name + ": " + e.message);
}
`;

async function child(prefix: string[], flags: string[]): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o777);
    const script = `${dir}/open_tap.ts`;
    await Deno.writeTextFile(script, SCRIPT);
    await Deno.chmod(script, 0o644);
    const cmd = [...prefix, Deno.execPath(), "run", "--no-config", "--quiet", ...flags, script];
    const out = await new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      cwd: dir,
      env: { DENO_DIR: `${dir}/deno_dir`, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return text;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function have(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
      .outputSync()
      .success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "tap errors: without --allow-ffi, PermissionDenied says so",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    assert.equal(
      await child([], ["--allow-read"]),
      "PermissionDenied: Cannot load libc for the TAP link: run deno with --allow-ffi " +
        "(and as root or with CAP_NET_ADMIN)",
    );
  },
});

Deno.test({
  name: "tap errors: as an unprivileged user, PermissionDenied names root or CAP_NET_ADMIN",
  ignore: tapIgnore() || !have("setpriv"),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const nobody = [
      "setpriv",
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "--inh-caps=-all",
    ];
    // Where /dev/net/tun is open to everyone (mode 0666, as some systems set it), the open
    // succeeds and the kernel refuses the device itself (TUNSETIFF: EPERM).
    const worldOpen = ((Deno.statSync("/dev/net/tun").mode ?? 0) & 0o006) === 0o006;
    assert.equal(
      await child(nobody, ["--allow-read", "--allow-ffi"]),
      worldOpen
        ? "PermissionDenied: Cannot create or attach TAP device tapz: not permitted; this needs " +
          "root or CAP_NET_ADMIN (and deno --allow-ffi)"
        : "PermissionDenied: Cannot open /dev/net/tun: permission denied; TAP devices need root " +
          "or CAP_NET_ADMIN (and deno --allow-ffi)",
    );
  },
});

Deno.test({
  name: "tap errors: without /dev/net/tun, NotFound says to load the tun module",
  ignore: tapIgnore() || !have("unshare"),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    // A private mount namespace: the tmpfs hides /dev/net from this child only.
    const hide = [
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount -t tmpfs none /dev/net && exec "$@"',
      "sh",
    ];
    assert.equal(
      await child(hide, ["--allow-read", "--allow-ffi"]),
      "NotFound: Cannot open /dev/net/tun: it does not exist (load the tun module: modprobe tun)",
    );
  },
});
