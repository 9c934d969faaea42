// Config assembly: defaults < YAML file < environment < flags, validated once by the schema.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import * as v from "valibot";
import { expandHome } from "../workspace/roots.ts";
import { isSecret, maskUrlCredentials } from "./describe.ts";
import { upstreamCompat } from "./compat.ts";
import { configFromEnv, type Partial } from "./env.ts";
import { nearest } from "./nearest.ts";
import { isTrusted, trustListPath, untrustedView } from "./trust.ts";
import { configSchema, type Config, defaultAt, isInert } from "./schema.ts";

export type ConfigProblem = { path: string; message: string };
/** Where the file came from: a project file (found in the working folder) is untrusted until `tfo-mcp trust`. */
export type FileOrigin = "flag" | "env" | "project" | "user" | "system";
export type UnknownKey = { key: string; suggestion?: string };
export type LoadedConfig =
  | {
      ok: true;
      config: Config;
      file: string | undefined;
      origin?: FileOrigin;
      /** false for a project file that is not trusted: some of its keys were ignored */
      trusted: boolean;
      /** keys dropped from an untrusted project file */
      ignored: string[];
      /** keys neither tfo-mcp nor the Python server knows (typos) */
      unknown: UnknownKey[];
      warnings: string[];
      /** said at debug level only: keys the Python server had but never used */
      inert: string[];
    }
  | { ok: false; problems: ConfigProblem[]; file: string | undefined };

export type LoadOptions = {
  /** --config */
  file?: string;
  /** values from command-line flags, already shaped like the config */
  flags?: Partial;
  env?: Record<string, string | undefined>;
  cwd?: string;
  home?: string;
  /** the system-wide file; a parameter so tests need not write to /etc */
  systemFile?: string;
};

export const SYSTEM_CONFIG = "/etc/tfo-mcp/config.yaml";
type Candidate = { path: string; origin: FileOrigin };

/** Where the YAML file comes from, in order; the first that exists wins. An explicit one must exist. */
export function configFileCandidates(opts: { file?: string; env: Record<string, string | undefined>; cwd: string; home: string; systemFile?: string }) {
  if (opts.file) return { explicit: { path: resolve(opts.cwd, expandHome(opts.file, opts.home)), origin: "flag" } as Candidate, candidates: [] as Candidate[] };
  const fromEnv = opts.env.TELEMETRYFLOW_MCP_CONFIG;
  if (fromEnv) return { explicit: { path: resolve(opts.cwd, expandHome(fromEnv, opts.home)), origin: "env" } as Candidate, candidates: [] as Candidate[] };
  const xdg = opts.env.XDG_CONFIG_HOME || join(opts.home, ".config");
  const candidates: Candidate[] = [
    { path: join(opts.cwd, "tfo-mcp.yaml"), origin: "project" },
    { path: join(opts.cwd, "configs", "tfo-mcp.yaml"), origin: "project" },
    { path: join(xdg, "tfo-mcp", "config.yaml"), origin: "user" },
  ];
  if (process.platform !== "win32") candidates.push({ path: opts.systemFile ?? SYSTEM_CONFIG, origin: "system" });
  return { explicit: undefined, candidates };
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Two levels deep is all the config has: sections of leaves. */
export function mergeLayers(...layers: Partial[]): Record<string, unknown> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const layer of layers) {
    for (const [s, section] of Object.entries(layer)) {
      if (!isPlainObject(section)) {
        (out as Record<string, unknown>)[s] = section;
        continue;
      }
      out[s] = { ...(isPlainObject(out[s]) ? out[s] : {}), ...section };
    }
  }
  return out;
}

function describe(value: unknown, secret = false): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  // A secret's value is never echoed, not even a malformed one: it may be the real key.
  if (typeof value === "string" && secret) return `a string of ${value.length} characters (not shown: it is a secret)`;
  if (typeof value === "string") {
    const shown = maskUrlCredentials(value);
    return `the string ${JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown)}`;
  }
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/** valibot issues → one line per problem: key path, what it got, what it accepts, and where it came from. */
export function describeIssues(issues: v.BaseIssue<unknown>[], sources: Record<string, string>, file?: string): ConfigProblem[] {
  return issues.map((issue) => {
    const path = v.getDotPath(issue) ?? "(root)";
    const origin = sources[path] ? ` (from ${sources[path]})` : file ? ` (from ${file})` : "";
    const expected = issue.expected ? `expected ${issue.expected}` : issue.message;
    return { path, message: `${path}: got ${describe(issue.input, isSecret(path))}; ${expected}${origin}` };
  });
}

/** Every key path the schema defines ("server.name", …). */
export function knownKeyPaths(): string[] {
  const out: string[] = [];
  for (const [s, schema] of Object.entries(configSchema.entries as Record<string, v.GenericSchema>)) {
    const inner = (schema as unknown as { wrapped: { entries: Record<string, unknown> } }).wrapped.entries;
    for (const k of Object.keys(inner)) out.push(`${s}.${k}`);
  }
  return out;
}

/**
 * Keys the schema does not know (typos, with the nearest known key as a suggestion), and
 * the known keys this build accepts but does not act on (inert: said quietly).
 */
export function unknownKeys(input: Record<string, unknown>): { unknown: UnknownKey[]; inert: string[] } {
  const known = knownKeyPaths();
  const knownSet = new Set(known);
  const sections = [...new Set(known.map((k) => k.split(".")[0]!))];
  const unknown: UnknownKey[] = [];
  const inert: string[] = [];
  for (const [s, section] of Object.entries(input)) {
    if (!sections.includes(s)) {
      unknown.push({ key: s, suggestion: nearest(s, sections) });
      continue;
    }
    if (!isPlainObject(section)) continue;
    for (const k of Object.keys(section)) {
      const path = `${s}.${k}`;
      if (!knownSet.has(path)) unknown.push({ key: path, suggestion: nearest(path, known) });
      // An inert key left at its default (as init-config writes it) is not worth a word.
      else if (isInert(path) && JSON.stringify((section as Record<string, unknown>)[k]) !== JSON.stringify(defaultAt(path))) inert.push(path);
    }
  }
  return { unknown, inert };
}

/** A relative root in a config file means a folder beside the file, not beside wherever the server starts. */
function rootsRelativeTo(fromFile: Partial, folder: string, home: string): Partial {
  const roots = fromFile.workspace?.roots;
  if (!Array.isArray(roots)) return fromFile;
  const absolute = roots.map((r) => (typeof r === "string" ? resolve(folder, expandHome(r, home)) : r));
  return { ...fromFile, workspace: { ...fromFile.workspace, roots: absolute } };
}

export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const home = opts.home ?? homedir();
  const { explicit, candidates } = configFileCandidates({ file: opts.file, env, cwd, home, systemFile: opts.systemFile });
  let fromFile: Partial = {};
  const warnings: string[] = [];
  let unknown: UnknownKey[] = [];
  let inert: string[] = [];
  let ignored: string[] = [];
  let trusted = true;

  if (explicit && !existsSync(explicit.path)) {
    const via = explicit.origin === "env" ? " (from TELEMETRYFLOW_MCP_CONFIG)" : "";
    return { ok: false, file: explicit.path, problems: [{ path: "(file)", message: `config file not found: ${explicit.path}${via}` }] };
  }
  const found = explicit ?? candidates.find((c) => existsSync(c.path));
  const file = found?.path;
  const origin = found?.origin;
  if (file) {
    let parsed: unknown;
    let text = "";
    try {
      text = readFileSync(file, "utf8");
      // YAML is only loaded when there is a file: start-up without one stays lean.
      const { parse } = await import("yaml");
      parsed = parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      return { ok: false, file, problems: [{ path: "(file)", message: `cannot read ${file}: ${reason}` }] };
    }
    if (parsed === null || parsed === undefined) parsed = {};
    if (!isPlainObject(parsed)) {
      return { ok: false, file, problems: [{ path: "(root)", message: `${file}: expected a mapping of sections (server:, claude:, …), got ${describe(parsed)}` }] };
    }
    fromFile = rootsRelativeTo(parsed as Partial, dirname(file), home);
    ({ unknown, inert } = unknownKeys(parsed));
    for (const { key, suggestion } of unknown) warnings.push(`${file}: unknown key "${key}" ignored${suggestion ? ` (did you mean "${suggestion}"?)` : ""}`);
    if (origin === "project" && !isTrusted(trustListPath(env, home), file, text)) {
      trusted = false;
      const view = untrustedView(fromFile, dirname(file), home);
      fromFile = view.kept;
      // Keys the schema drops anyway (inert upstream keys, typos) are not news.
      const known = new Set(knownKeyPaths());
      ignored = view.ignored.filter((k) => known.has(k));
      if (ignored.length) {
        warnings.push(
          `${file} came with the project in this folder and is not trusted, so these keys in it were ignored: ${ignored.join(", ")}. If you wrote it, trust it with \`tfo-mcp trust ${file}\` (or pass it with --config).`,
        );
      }
    }
  }

  const fromEnv = configFromEnv(env, delimiter);
  warnings.push(...fromEnv.warnings);
  inert.push(...fromEnv.inert);
  const merged = mergeLayers(fromFile, fromEnv.values, opts.flags ?? {});
  const compat = upstreamCompat(merged as Partial, (merged.server as Record<string, unknown> | undefined)?.transport as string | undefined);
  warnings.push(...compat.warnings);
  const result = v.safeParse(configSchema, compat.values);
  if (!result.success) return { ok: false, file, problems: describeIssues(result.issues, fromEnv.sources, file) };
  return { ok: true, config: result.output, file, origin, trusted, ignored, unknown, inert, warnings };
}
