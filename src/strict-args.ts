// citty ignores flags it does not know and arguments nobody asked for, so `serve --roots DIR`
// served the current folder and `validate -c prod.yaml` passed without reading the file.
// This checks a command line against a command's declared args first. Pure.
import type { ArgsDef } from "citty";
import { nearest } from "./config/nearest.ts";

export type ArgsVerdict = { ok: true } | { ok: false; error: string };

type Declared = { type?: string; alias?: string | string[] };

export function checkArgs(command: string, args: ArgsDef, rawArgs: string[]): ArgsVerdict {
  const flags = new Map<string, Declared>();
  let positionals = 0;
  for (const [name, def] of Object.entries(args as Record<string, Declared>)) {
    if (def.type === "positional") {
      positionals++;
      continue;
    }
    flags.set(name, def);
    for (const alias of [def.alias ?? []].flat()) flags.set(alias, def);
  }
  const longNames = [...flags.keys()].filter((n) => n.length > 1).map((n) => `--${n}`);
  let seenPositionals = 0;
  for (let i = 0; i < rawArgs.length; i++) {
    const token = rawArgs[i]!;
    if (token === "--") {
      const rest = rawArgs.slice(i + 1);
      if (seenPositionals + rest.length > positionals) return stray(command, rest[positionals - seenPositionals]!);
      break;
    }
    if (!token.startsWith("-") || token === "-") {
      if (++seenPositionals > positionals) return stray(command, token);
      continue;
    }
    const long = token.startsWith("--");
    const [rawName = "", inlineValue] = token.replace(/^--?/, "").split(/=(.*)/s, 2);
    // citty reads --no-debug as debug=false.
    const name = long && rawName.startsWith("no-") && flags.get(rawName.slice(3))?.type === "boolean" ? rawName.slice(3) : rawName;
    const def = flags.get(name);
    if (!def || (!long && name.length !== 1)) {
      const guess = nearest(`--${name}`, longNames);
      return { ok: false, error: `${command}: unknown option ${token.split("=")[0]}${guess ? ` (did you mean ${guess}?)` : ""}. See tfo-mcp ${command} --help.` };
    }
    if (def.type === "string" && inlineValue === undefined) {
      const value = rawArgs[i + 1];
      if (value === undefined || (value.startsWith("-") && value.length > 1)) return { ok: false, error: `${command}: ${token} needs a value. See tfo-mcp ${command} --help.` };
      i++;
    }
    if (def.type === "boolean" && inlineValue !== undefined && !/^(true|false)$/.test(inlineValue)) {
      return { ok: false, error: `${command}: ${token.split("=")[0]} is a switch; give it alone or as =true / =false.` };
    }
  }
  return { ok: true };
}

function stray(command: string, token: string): ArgsVerdict {
  return { ok: false, error: `${command}: unexpected argument ${JSON.stringify(token)}; options start with --. See tfo-mcp ${command} --help.` };
}
