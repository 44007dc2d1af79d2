/**
 * A libc whose TUNSETOFFLOAD fails, as on a kernel without TAP offloads: the offload fallback
 * tests open devices through it and check how often the offloads were asked for.
 */

import { libc, TUNSETOFFLOAD } from "../../src/link/tap/libc.ts";

/** The real libc with TUNSETOFFLOAD refused; `refused()` counts the refusals. */
export function offloadRefusingLibc(): { libc: ReturnType<typeof libc>; refused: () => number } {
  const real = libc();
  let refused = 0;
  const refusing = {
    ...real,
    ioctlValue: (fd: number, req: bigint, v: bigint): number => {
      if (req === TUNSETOFFLOAD) {
        refused++;
        return -1;
      }
      return real.ioctlValue(fd, req, v);
    },
  } as typeof real;
  return { libc: refusing, refused: () => refused };
}
