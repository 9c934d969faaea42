// Client roots narrow the configured workspace; they can never widen it.
import { realpath } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { isInside } from "./resolve.ts";

/** Pure: the parts of the configured roots that the client's roots also cover. */
export function narrowRoots(configured: string[], client: string[]): string[] {
  const out: string[] = [];
  for (const c of client) {
    for (const root of configured) {
      // The deeper of the two, when one holds the other; nothing when they are apart.
      const narrowed = isInside(root, c) ? c : isInside(c, root) ? root : undefined;
      if (narrowed && !out.includes(narrowed)) out.push(narrowed);
    }
  }
  return out;
}

/** file:// URIs from roots/list → real paths; anything else (or missing) is skipped and reported. */
export async function clientRootPaths(uris: string[]): Promise<{ paths: string[]; skipped: string[] }> {
  const paths: string[] = [];
  const skipped: string[] = [];
  for (const uri of uris) {
    try {
      paths.push(await realpath(fileURLToPath(uri)));
    } catch {
      skipped.push(uri);
    }
  }
  return { paths, skipped };
}
