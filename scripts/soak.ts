// A bounded soak of the team deployment (test/helpers/topology.ts: two replicas, PostgreSQL,
// Redis, NATS and ClickHouse when present, HAProxy): a steady load of sessions and calls
// across both replicas for --seconds (default 150), sampled every 10 s. Prints p50/p99 of
// the calls, and fails (exit 1) when the replicas' memory, PostgreSQL connections or Redis
// keys keep growing under the load: its last third of samples against its first third.
//
//   . DIR/env && node_modules/.bin/bun scripts/soak.ts [--seconds N] [--rate CALLS_PER_S]
import { RedisClient, SQL } from "bun";
import { connectHttp } from "../test/helpers/http-server.ts";
import { servicesFromEnv, startTopology, topologyMissing } from "../test/helpers/topology.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg("seconds", 150);
const RATE = arg("rate", 100);
const SAMPLE_MS = 10_000;
const WORKERS = 8;
// Growth allowed between the first and last third: noise, not a leak.
const RSS_SLACK_MB = 15;
const CONNECTION_SLACK = 4;
const KEY_SLACK = 50;

const services = servicesFromEnv();
const missing = topologyMissing(services);
if (missing.length) {
  console.log(`soak skipped: ${missing.join(", ")} missing (scripts/services.sh start DIR, then . DIR/env)`);
  process.exit(0);
}

// A Redis database of its own, so its key count is only this deployment's.
const redisUrl = new URL(services.redis!);
redisUrl.pathname = "/9";
const redis = new RedisClient(redisUrl.href);
await redis.send("FLUSHDB", []);
const t = await startTopology(services, { redisUrl: redisUrl.href });
const pg = new SQL(t.databaseUrl);
const key = await t.addKey("soak", "--rate-limit", String(RATE * 120));
const auth = { authorization: `Bearer ${key}` };

type Sample = { at: number; rssA: number; rssB: number; connections: number; redisKeys: number };
const samples: Sample[] = [];
async function sample() {
  const [{ n }] = await pg`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()`;
  samples.push({ at: Math.round(performance.now() / 1000), rssA: t.a.rssMb(), rssB: t.b.rssMb(), connections: n, redisKeys: Number(await redis.send("DBSIZE", [])) });
  const s = samples.at(-1)!;
  console.log(`t=${s.at}s rss ${s.rssA.toFixed(1)} / ${s.rssB.toFixed(1)} MB, pg connections ${s.connections}, redis keys ${s.redisKeys}`);
}

// Steady load: sessions that make a few calls and close, through the proxy and to each replica.
const times: number[] = [];
let errors = 0;
const targets = [t.proxyUrl, t.a.url, t.b.url];
const end = performance.now() + SECONDS * 1000;
async function worker(n: number) {
  for (let i = 0; performance.now() < end; i++) {
    const { client, transport } = await connectHttp(targets[(n + i) % targets.length]!, auth, `soak-${n}`);
    for (let c = 0; c < 10 && performance.now() < end; c++) {
      const started = performance.now();
      try {
        await client.callTool({ name: c % 2 ? "system_info" : "list_directory", arguments: c % 2 ? {} : { path: t.root } });
        times.push(performance.now() - started);
      } catch {
        errors++;
      }
      // Paced: WORKERS workers at RATE calls/s in all.
      await Bun.sleep(Math.max(0, (WORKERS * 1000) / RATE - (performance.now() - started)));
    }
    // DELETE the session, as a client that is done should; then close.
    await transport.terminateSession().catch(() => errors++);
    await client.close();
  }
}
await Bun.sleep(1000);
await sample();
const sampler = setInterval(() => void sample(), SAMPLE_MS);
await Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));
clearInterval(sampler);
await Bun.sleep(3000);
await sample();

times.sort((x, y) => x - y);
const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? Number.NaN;
console.log(`soak: ${SECONDS} s, ${times.length} calls (${(times.length / SECONDS).toFixed(0)}/s), ${errors} errors, p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms`);

// Under load only: the first sample is before it (pools and caches not yet warm), the last after it.
const loaded = samples.slice(1, -1);
const third = Math.max(1, Math.floor(loaded.length / 3));
const avg = (xs: Sample[], f: (s: Sample) => number) => xs.reduce((sum, s) => sum + f(s), 0) / xs.length;
const first = loaded.slice(0, third);
const last = loaded.slice(-third);
const growth = {
  rssA: avg(last, (s) => s.rssA) - avg(first, (s) => s.rssA),
  rssB: avg(last, (s) => s.rssB) - avg(first, (s) => s.rssB),
  connections: Math.max(...last.map((s) => s.connections)) - Math.max(...first.map((s) => s.connections)),
  redisKeys: Math.max(...last.map((s) => s.redisKeys)) - Math.max(...first.map((s) => s.redisKeys)),
};
console.log(
  `soak growth, last third vs first: rss ${growth.rssA.toFixed(1)} / ${growth.rssB.toFixed(1)} MB (≤ ${RSS_SLACK_MB}), pg connections ${growth.connections} (≤ ${CONNECTION_SLACK}), redis keys ${growth.redisKeys} (≤ ${KEY_SLACK})`,
);
const failed = growth.rssA > RSS_SLACK_MB || growth.rssB > RSS_SLACK_MB || growth.connections > CONNECTION_SLACK || growth.redisKeys > KEY_SLACK || errors > 0;

await pg.close();
await redis.send("FLUSHDB", []);
redis.close();
await t.stop();
console.log(failed ? "soak: FAILED" : "soak: ok");
process.exit(failed ? 1 : 0);
