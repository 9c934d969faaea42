// Config assembly: defaults < YAML file < environment < flags, validated once by the schema.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import * as v from "valibot";
import { expandHome } from "../workspace/roots.ts";
import { configFromEnv, type Partial } from "./env.ts";
import { configSchema, type Config } from "./schema.ts";

export type ConfigProblem = { path: string; message: string };
export type LoadedConfig =
  | { ok: true; config: Config; file: string | undefined; warnings: string[] }
  | { ok: false; problems: ConfigProblem[]; file: string | undefined };

export type LoadOptions = {
  /** --config */
  file?: string;
  /** values from command-line flags, already shaped like the config */
  flags?: Partial;
  env?: Record<string, string | undefined>;
  cwd?: string;
  home?: string;
};

/** Where the YAML file comes from, in order; the first that exists wins. An explicit one must exist. */
export function configFileCandidates(opts: { file?: string; env: Record<string, string | undefined>; cwd: string; home: string }) {
  if (opts.file) return { explicit: resolve(opts.cwd, opts.file), candidates: [] as string[] };
  const fromEnv = opts.env.TELEMETRYFLOW_MCP_CONFIG;
  if (fromEnv) return { explicit: resolve(opts.cwd, fromEnv), candidates: [] as string[] };
  const xdg = opts.env.XDG_CONFIG_HOME || join(opts.home, ".config");
  return {
    explicit: undefined,
    candidates: [join(opts.cwd, "tfo-mcp.yaml"), join(opts.cwd, "configs", "tfo-mcp.yaml"), join(xdg, "tfo-mcp", "config.yaml")],
  };
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

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/** valibot issues → one line per problem: key path, what it got, what it accepts, and where it came from. */
export function describeIssues(issues: v.BaseIssue<unknown>[], sources: Record<string, string>, file?: string): ConfigProblem[] {
  return issues.map((issue) => {
    const path = v.getDotPath(issue) ?? "(root)";
    const origin = sources[path] ? ` (from ${sources[path]})` : file ? ` (from ${file})` : "";
    const expected = issue.expected ? `expected ${issue.expected}` : issue.message;
    return { path, message: `${path}: got ${describe(issue.input)}; ${expected}${origin}` };
  });
}

/** Keys the schema does not know: a typo in YAML should be visible, not silently dropped. */
export function unknownKeys(input: Record<string, unknown>): string[] {
  const shape = configSchema.entries as Record<string, v.GenericSchema>;
  const out: string[] = [];
  for (const [s, section] of Object.entries(input)) {
    const schema = shape[s];
    if (!schema) {
      out.push(s);
      continue;
    }
    const inner = (schema as unknown as { wrapped: { entries: Record<string, unknown> } }).wrapped.entries;
    if (isPlainObject(section)) for (const k of Object.keys(section)) if (!(k in inner)) out.push(`${s}.${k}`);
  }
  return out;
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
  const { explicit, candidates } = configFileCandidates({ file: opts.file, env, cwd, home });
  let file: string | undefined;
  let fromFile: Partial = {};
  const warnings: string[] = [];

  if (explicit && !existsSync(explicit)) {
    return { ok: false, file: explicit, problems: [{ path: "(file)", message: `config file not found: ${explicit}` }] };
  }
  file = explicit ?? candidates.find((c) => existsSync(c));
  if (file) {
    let parsed: unknown;
    try {
      // YAML is only loaded when there is a file: start-up without one stays lean.
      const { parse } = await import("yaml");
      parsed = parse(readFileSync(file, "utf8"));
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      return { ok: false, file, problems: [{ path: "(file)", message: `cannot read ${file}: ${reason}` }] };
    }
    if (parsed === null || parsed === undefined) parsed = {};
    if (!isPlainObject(parsed)) {
      return { ok: false, file, problems: [{ path: "(root)", message: `${file}: expected a mapping of sections (server:, claude:, …), got ${describe(parsed)}` }] };
    }
    fromFile = rootsRelativeTo(parsed as Partial, dirname(file), home);
    for (const key of unknownKeys(parsed)) warnings.push(`${file}: unknown key "${key}" ignored`);
  }

  const fromEnv = configFromEnv(env, delimiter);
  warnings.push(...fromEnv.warnings);
  const merged = mergeLayers(fromFile, fromEnv.values, opts.flags ?? {});
  const result = v.safeParse(configSchema, merged);
  if (!result.success) return { ok: false, file, problems: describeIssues(result.issues, fromEnv.sources, file) };
  return { ok: true, config: result.output, file, warnings };
}
