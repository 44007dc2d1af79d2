// The import direction of src/ (DESIGN.md "Layers"): wire -> kernels -> tcp -> iface -> stack
// -> api. src/wire/ is the ground floor and imports nothing outside itself.
import assert from "node:assert/strict";

const SRC = new URL("../../src/", import.meta.url);

/** Rank of a path relative to src/: a file may import only files of its rank or lower. */
function rank(rel: string): number {
  if (rel.startsWith("wire/")) return 0;
  if (rel.startsWith("kernels/")) return 1;
  if (rel.startsWith("tcp/")) return 2;
  if (rel.startsWith("iface/") || rel.startsWith("link/")) return 3;
  if (!rel.includes("/")) return 4; // stack.ts, stack_clock.ts, stack_sim.ts
  if (rel.startsWith("api/")) return 5;
  return 6;
}

function* files(dir: URL, prefix = ""): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) yield* files(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`);
    else if (e.name.endsWith(".ts")) yield `${prefix}${e.name}`;
  }
}

/** The relative module specifiers a file imports or re-exports (outside comments). */
function imports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)) out.push(m[1]!);
  return out;
}

Deno.test("layers: imports only flow downward; src/wire imports nothing outside src/wire", () => {
  const bad: string[] = [];
  let wireFiles = 0;
  for (const rel of files(SRC)) {
    const text = Deno.readTextFileSync(new URL(rel, SRC));
    if (rel.startsWith("wire/")) wireFiles++;
    for (const spec of imports(text)) {
      const target = new URL(spec, new URL(rel, SRC)).href.slice(SRC.href.length);
      if (rel.startsWith("wire/") && !target.startsWith("wire/")) bad.push(`${rel} -> ${target}`);
      if (rank(target) > rank(rel)) bad.push(`${rel} -> ${target}`);
    }
  }
  assert.ok(wireFiles >= 5, "src/wire found");
  assert.deepEqual(bad, []);
});
