// The store's API keys (`tfo-mcp keys`) as the http server sees them: which tenant a bearer
// key is, whether the store holds any key, and when each was last used. Keys are added and
// revoked by another process, so nothing tells this one: a key found is remembered for
// KEY_CACHE_MS (2 s) and looked up again after, which is how long a revoked or rotated key
// may still be accepted. A wrong key is never remembered (a flood of made-up keys cannot fill
// memory); the failed-auth throttle bounds how many lookups a peer can cause.
import * as v from "valibot";
import type { Logger } from "../log.ts";
import type { Store } from "../store/port.ts";
import { type ApiKey, hashKey, KEY_CACHE_MS, keyName } from "../tenants/keys.ts";
const TOUCH_EVERY_MS = 60_000;

export type KeyDirectory = {
  /** the active key a client sent, or undefined */
  find(given: string): Promise<ApiKey | undefined>;
  /** whether the store holds any key, revoked ones included: then every request needs a key */
  anyKeys(): Promise<boolean>;
  /** records last_used_at, at most once a minute per key, without holding the request up */
  used(key: ApiKey): void;
};

export function keyDirectory(open: () => Promise<Store>, log: Logger, now: () => number = () => Date.now()): KeyDirectory {
  // By the key's SHA-256: the lookup's timing can only tell about the hash, which says nothing of the key.
  const found = new Map<string, { key: ApiKey; until: number }>();
  const touched = new Map<string, number>();
  let any: { value: boolean; until: number } | undefined;
  return {
    async find(given) {
      const hash = hashKey(given);
      const t = now();
      const hit = found.get(hash);
      if (hit && hit.until > t) return hit.key;
      const key = await (await open()).keyByHash(hash);
      // A name like key-1 would share sessions and limits with that http.api_keys key; `keys add` refuses it.
      if (key && v.is(keyName, key.name)) {
        found.set(hash, { key, until: t + KEY_CACHE_MS });
        return key;
      }
      if (hit) {
        found.delete(hash);
        log.info("API key refused from now on: revoked or rotated", { principal: hit.key.name });
      }
      return undefined;
    },
    async anyKeys() {
      const t = now();
      if (!any || any.until <= t) any = { value: (await (await open()).listKeys()).length > 0, until: t + KEY_CACHE_MS };
      return any.value;
    },
    used(key) {
      const t = now();
      if (t - (touched.get(key.name) ?? Number.NEGATIVE_INFINITY) < TOUCH_EVERY_MS) return;
      touched.set(key.name, t);
      void open()
        .then((store) => store.touchKey(key.name, new Date(t).toISOString()))
        .catch((error: Error) => log.warn("API key's last use not recorded", { principal: key.name, error: error.message }));
    },
  };
}
