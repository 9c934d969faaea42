// A config file found in the working folder comes with the project (a cloned repository),
// not from the user. Until the user trusts it (`tfo-mcp trust`, direnv's model: the file's
// path and SHA-256), it may narrow what the server does but never widen access or send
// data or secrets elsewhere. Pure rules here; the trust list's file I/O at the bottom.
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { writeAtomically } from "../atomic-write.ts";
import { isInside } from "../workspace/resolve.ts";
import { expandHome } from "../workspace/roots.ts";
import type { Partial } from "./env.ts";
import { defaultAt } from "./schema.ts";

/** How a key may be set from an untrusted file: "never", or a test its value must pass. */
type Rule = "never" | ((value: unknown, ctx: { folder: string; home: string }) => boolean);

const atMostDefault =
  (path: string): Rule =>
  (value) => {
    const fallback = defaultAt(path);
    return typeof value === "number" && typeof fallback === "number" && value <= fallback;
  };
const onlyValue =
  (allowed: unknown): Rule =>
  (value) =>
    value === allowed;

/** realpath of the longest existing prefix, the rest appended (sync: config loading is). */
function realPath(path: string): string {
  const tail: string[] = [];
  let head = path;
  for (;;) {
    try {
      return join(realpathSync(head), ...tail.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return path;
      tail.push(basename(head));
      head = parent;
    }
  }
}

/**
 * A path key may name a place inside the file's own folder only, judged by real paths: a
 * repository can hold a symlink `up -> /`, and `roots: [./up]` must not become `/`, nor
 * `logging.output: ./log.txt` (a link to ~/.bashrc) a way to append to any file.
 */
const insideFolder: Rule = (value, { folder, home }) => {
  const list = Array.isArray(value) ? value : [value];
  const realFolder = realPath(folder);
  return list.every((x) => typeof x === "string" && isInside(realFolder, realPath(resolve(folder, expandHome(x, home)))));
};

/**
 * Keys an untrusted file may not set as it likes. Anything not listed here is harmless
 * (names, prompts' defaults, timeouts within their schema bounds). Whole sections listed
 * as "section.*" are never taken: each of their keys sends data somewhere or opens a port.
 */
export const UNTRUSTED_RULES: Record<string, Rule> = {
  // stdio only: any other transport opens a port (then host and port matter; here they do not).
  "server.transport": onlyValue("stdio"),
  "claude.api_key": "never",
  "claude.base_url": "never",
  "workspace.roots": insideFolder,
  "workspace.read_only": onlyValue(true),
  "workspace.follow_symlinks": onlyValue(false),
  "workspace.allow_hardlinks": onlyValue(false),
  "workspace.max_read_bytes": atMostDefault("workspace.max_read_bytes"),
  "workspace.max_write_bytes": atMostDefault("workspace.max_write_bytes"),
  "workspace.max_results": atMostDefault("workspace.max_results"),
  "commands.enabled": onlyValue(false),
  "commands.env_passthrough": "never",
  "commands.max_output_bytes": atMostDefault("commands.max_output_bytes"),
  // An allow list narrows only when it is not empty; an empty one is the default.
  "commands.allow": (value) => Array.isArray(value) && value.length > 0,
  "logging.output": (value, ctx) => value === "stderr" || insideFolder(value, ctx),
  "storage.url": "never",
  "storage.backend": "never",
  "cache.backend": "never",
  "queue.backend": "never",
  "analytics.backend": "never",
  "telemetry.enabled": onlyValue(false),
  "telemetry.*": "never",
  "http.*": "never",
};

/** Keys whose names say they carry an address or a secret: never from an untrusted file, whatever section they are in. */
const SENDS_ELSEWHERE = /(^|_)(url|endpoint|host|port|key|keys|secret|token|password)$/;

function ruleFor(path: string): Rule | undefined {
  const [s = "", k = ""] = path.split(".");
  return UNTRUSTED_RULES[path] ?? UNTRUSTED_RULES[`${s}.*`] ?? (SENDS_ELSEWHERE.test(k) ? "never" : undefined);
}

/** Pure: the file's values an untrusted file may set, and the key paths dropped from it. */
export function untrustedView(fromFile: Partial, folder: string, home: string): { kept: Partial; ignored: string[] } {
  const kept: Partial = {};
  const ignored: string[] = [];
  for (const [s, section] of Object.entries(fromFile)) {
    if (typeof section !== "object" || section === null || Array.isArray(section)) {
      // Not a section: the schema will report it; nothing here can widen anything.
      (kept as Record<string, unknown>)[s] = section;
      continue;
    }
    for (const [k, value] of Object.entries(section)) {
      const rule = ruleFor(`${s}.${k}`);
      // A value equal to the default changes nothing: upstream's own config, with its
      // localhost URLs, loads from a project folder without a warning.
      const harmless = rule === undefined || JSON.stringify(value) === JSON.stringify(defaultAt(`${s}.${k}`));
      const allowed = harmless || (rule !== "never" && rule(value, { folder, home }));
      if (allowed) (kept[s] ??= {})[k] = value;
      else ignored.push(`${s}.${k}`);
    }
  }
  return { kept, ignored };
}

export function sha256(bytes: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/** Where the user's trust decisions live: beside the conversation store, in the user's data folder. */
export function trustListPath(env: Record<string, string | undefined>, home: string): string {
  return join(env.XDG_DATA_HOME || join(home, ".local", "share"), "tfo-mcp", "trusted-configs.json");
}

type TrustList = Record<string, { sha256: string; trusted_at: string }>;

function readTrustList(path: string): TrustList {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : {};
  } catch {
    // Missing or unreadable: nothing is trusted, which is the safe reading.
    return {};
  }
}

/** Is this file, with exactly these bytes, trusted? A changed file is untrusted again. */
export function isTrusted(listPath: string, file: string, bytes: Uint8Array | string): boolean {
  return readTrustList(listPath)[file]?.sha256 === sha256(bytes);
}

/** Records the file's path and hash. Returns the hash recorded. */
export async function trustFile(listPath: string, file: string, now = new Date()): Promise<string> {
  const hash = sha256(readFileSync(file));
  const list = readTrustList(listPath);
  list[file] = { sha256: hash, trusted_at: now.toISOString() };
  mkdirSync(dirname(listPath), { recursive: true });
  await writeAtomically(listPath, Buffer.from(`${JSON.stringify(list, null, 2)}\n`), 0o600);
  return hash;
}
