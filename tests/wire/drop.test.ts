import assert from "node:assert/strict";
import * as layout from "../../src/wire/layout.ts";
import { DROP_NAMES, dropName } from "../../src/wire/drop.ts";

Deno.test("drop names: one name per DROP_* code, DROP_COUNT of them", () => {
  const codes = Object.entries(layout)
    .filter(([k]) => k.startsWith("DROP_") && k !== "DROP_COUNT")
    .map(([k, v]) => [k, v as number] as const);
  assert.equal(DROP_NAMES.length, layout.DROP_COUNT);
  assert.equal(codes.length, layout.DROP_COUNT);
  // The codes are exactly 0 .. DROP_COUNT-1, each once.
  assert.deepEqual(codes.map(([, v]) => v).sort((a, b) => a - b), [
    ...Array(layout.DROP_COUNT).keys(),
  ]);
  assert.equal(new Set(DROP_NAMES).size, DROP_NAMES.length, "names are distinct");
  for (const name of DROP_NAMES) assert.match(name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  assert.equal(dropName(layout.DROP_NONE), "none");
  assert.equal(dropName(layout.DROP_FRAME_TOO_LONG), "frame-too-long");
  assert.equal(dropName(layout.DROP_COUNT), `drop-${layout.DROP_COUNT}`);
});

Deno.test("drop names: each name shares its first word with its DROP_* constant", () => {
  for (const [k, v] of Object.entries(layout)) {
    if (!k.startsWith("DROP_") || k === "DROP_COUNT" || k === "DROP_NONE") continue;
    const first = k.slice(5).split("_")[0]!.toLowerCase();
    assert.equal(dropName(v as number).split("-")[0], first, `${k} = ${v}`);
  }
});
