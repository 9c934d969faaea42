// `tfo-mcp keys add|list|revoke|rotate`: what each does to the store and what it prints.
// cli.ts parses argv, opens the store and exits; this decides and says.
import * as v from "valibot";
import type { Store } from "../store/port.ts";
import { realRoots } from "../workspace/roots.ts";
import { type ApiKey, describeKey, hashKey, KEY_CACHE_MS, keyName, newKey, parseRate } from "./keys.ts";

export type KeysOptions = {
  action: string;
  name?: string;
  roots: string[];
  tools?: string;
  readOnly: boolean;
  rateLimit?: string;
  maxSessions?: string;
  json: boolean;
  cwd: string;
  /** the tool names this server has, to check --tools against */
  toolNames: string[];
};
export type KeysIo = { out(text: string): void; err(text: string): void; store: Store; now?: () => Date };

const ACTIONS = ["add", "list", "revoke", "rotate"];

/** Returns the exit code. */
export async function runKeys(o: KeysOptions, io: KeysIo): Promise<number> {
  const now = (io.now ?? (() => new Date()))().toISOString();
  const fail = (text: string) => {
    io.err(`tfo-mcp: keys ${o.action}: ${text}`);
    return 1;
  };
  if (!ACTIONS.includes(o.action)) return fail(`unknown action; use ${ACTIONS.join(", ")}.`);
  if (o.action === "list") {
    const keys = await io.store.listKeys();
    if (o.json) io.out(JSON.stringify(keys.map(describeKey), null, 2));
    else if (keys.length === 0) io.out(`No API keys in ${io.store.describe}. Add one: tfo-mcp keys add NAME --root DIR.`);
    else for (const k of keys.map(describeKey)) io.out(`${k.name}  ${k.status}  roots ${[k.roots].flat().join(",")}  tools ${[k.tools].flat().join(",")}${k.read_only ? "  read-only" : ""}  created ${k.created_at}  last used ${k.last_used_at ?? "never"}`);
    return 0;
  }
  const name = v.safeParse(keyName, o.name ?? "");
  if (!name.success) return fail(o.name ? name.issues[0].message : "needs a NAME (tfo-mcp keys add alice --root ~/code/app).");
  if (o.action === "revoke") {
    if (!(await io.store.revokeKey(name.output, now))) return fail(`no active key named ${JSON.stringify(name.output)} (tfo-mcp keys list).`);
    io.out(`Revoked ${name.output}: running servers refuse it within ${KEY_CACHE_MS / 1000} s, on the sessions it opened too.`);
    return 0;
  }
  const key = newKey();
  if (o.action === "rotate") {
    if (!(await io.store.replaceKeyHash(name.output, hashKey(key)))) return fail(`no active key named ${JSON.stringify(name.output)} (tfo-mcp keys list).`);
    io.out(`New key for ${name.output} (running servers refuse the old one within ${KEY_CACHE_MS / 1000} s; this is shown once):\n${key}`);
    return 0;
  }
  // add
  const roots = await realRoots(o.roots, o.cwd);
  if (!roots.ok) return fail(`${roots.error}.`);
  const tools = (o.tools ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const unknown = tools.filter((t) => t !== "read" && !o.toolNames.includes(t));
  if (unknown.length) return fail(`unknown tool ${unknown.join(", ")}; tools are ${o.toolNames.join(", ")} (or "read" for the read-only set).`);
  const rate = o.rateLimit === undefined ? { ok: true as const, perMinute: 0 } : parseRate(o.rateLimit);
  if (!rate.ok) return fail(`${rate.error}.`);
  const sessions = o.maxSessions === undefined ? 0 : Number(o.maxSessions);
  if (!Number.isInteger(sessions) || sessions < 0) return fail(`--max-sessions ${JSON.stringify(o.maxSessions)} is not a whole number.`);
  const existing = (await io.store.listKeys()).find((k) => k.name === name.output);
  // A revoked key stays listed (who had access, until when), so its name stays taken.
  if (existing?.revoked_at) return fail(`a key named ${JSON.stringify(name.output)} was revoked and is kept on record; choose another name.`);
  if (existing) return fail(`a key named ${JSON.stringify(name.output)} exists; rotate it (tfo-mcp keys rotate ${name.output}) to get a new key.`);
  const record: ApiKey = {
    name: name.output,
    hash: hashKey(key),
    roots: roots.roots,
    tools: tools.flatMap((t) => (t === "read" ? READ_SET : [t])).filter((t, i, all) => all.indexOf(t) === i),
    read_only: o.readOnly,
    rate_limit: rate.perMinute,
    max_sessions: sessions,
    created_at: now,
    last_used_at: null,
    revoked_at: null,
  };
  await io.store.addKey(record);
  io.out(`Added key ${record.name} (stored as a hash in ${io.store.describe}; this is the only time it is shown):\n${key}`);
  io.out(`Clients send it as: Authorization: Bearer ${key.slice(0, 8)}…`);
  return 0;
}

/** What "read" stands for in --tools. */
export const READ_SET = ["read_file", "list_directory", "search_files", "system_info"];
