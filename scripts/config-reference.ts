// Prints the README's configuration reference table from the schema's defaults and KEY_DOCS,
// so the README cannot drift from the code (a test compares them).
import { envNameFor, KEY_DOCS } from "../src/config/describe.ts";
import { defaults } from "../src/config/schema.ts";

export function configReference(): string {
  const rows = ["| key | default | environment variable | meaning |", "|---|---|---|---|"];
  for (const [section, values] of Object.entries(defaults)) {
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      const path = `${section}.${key}`;
      const shown = Array.isArray(value) ? "[]" : value === "" ? '""' : String(value);
      // A | inside a cell would end it: escaped, as GitHub's tables want.
      rows.push(`| \`${path}\` | \`${shown}\` | \`${envNameFor(path)}\` | ${(KEY_DOCS[path] ?? "").replaceAll("|", "\\|")} |`);
    }
  }
  return rows.join("\n");
}

if (import.meta.main) console.log(configReference());
