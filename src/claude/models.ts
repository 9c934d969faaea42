// Model names: short aliases for people, full ids for the API.

export const MODEL_ALIASES: Record<string, string> = {
  opus: "claude-opus-5-5",
  sonnet: "claude-sonnet-5-5",
  haiku: "claude-haiku-5-5",
};

export type ModelChoice = { ok: true; model: string } | { ok: false; error: string };

/** An alias becomes its id; any `claude-…` id passes through (new models should not need a release of ours). */
export function resolveModel(requested: string | undefined, fallback: string): ModelChoice {
  const name = (requested ?? "").trim() || fallback;
  const aliased = MODEL_ALIASES[name.toLowerCase()];
  if (aliased) return { ok: true, model: aliased };
  if (/^claude-[a-z0-9.\-]+$/i.test(name)) return { ok: true, model: name };
  return {
    ok: false,
    error: `Unknown model ${JSON.stringify(name)}. Use an alias (${Object.keys(MODEL_ALIASES).join(", ")}) or a Claude model id such as ${MODEL_ALIASES.sonnet}.`,
  };
}
