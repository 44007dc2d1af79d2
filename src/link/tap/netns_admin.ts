/**
 * Creating and deleting a named network namespace for `openTap({ netns, create: true })` when
 * the namespace does not exist yet, with the `ip` command (iproute2) as `ip netns add` does
 * it; the link deletes it again when it closes, so the namespace lives exactly as long as
 * the device.
 *
 * @module
 */

import { checkNetnsLength } from "./setup.ts";

const NS_DIR = "/var/run/netns";

/** True when `/var/run/netns/<name>` exists. */
export function netnsExists(name: string): boolean {
  checkName(name);
  try {
    Deno.statSync(`${NS_DIR}/${name}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** `ip netns add <name>` and its loopback up; throws with the command's message. */
export function createNamedNetns(name: string): void {
  checkName(name);
  run(["netns", "add", name], `Cannot create network namespace ${name}`);
  try {
    run(["-n", name, "link", "set", "lo", "up"], `Cannot bring up lo in ${name}`);
  } catch (e) {
    deleteNamedNetns(name);
    throw e;
  }
}

/** `ip netns delete <name>`; errors are ignored (it may be gone already). */
export function deleteNamedNetns(name: string): void {
  try {
    run(["netns", "delete", name], "");
  } catch { /* already gone */ }
}

function checkName(name: string): void {
  if (
    typeof name !== "string" || name.length === 0 || name.includes("/") || name === "." ||
    name === ".."
  ) {
    throw new TypeError(`Network namespace name "${name}" is not valid`);
  }
  checkNetnsLength(name);
}

function run(args: string[], what: string): void {
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command("ip", { args, stdin: "null", stdout: "null", stderr: "piped" })
      .outputSync();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new Deno.errors.PermissionDenied(`${what}: run deno with --allow-run (for ip)`);
    }
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`${what}: the ip command (iproute2) is not installed`);
    }
    throw e;
  }
  if (out.code !== 0) {
    throw new Error(
      `${what}: ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}
