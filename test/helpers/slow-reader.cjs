// A Node.js MCP client, spawned as Claude Desktop and Claude Code spawn servers (libuv
// stdio), that sends one big read_file request every 30 ms and does not read stdout for a
// while. Prints the server's peak RSS (MiB) while unread, then the number of responses read.
// usage: node slow-reader.cjs ROOT COUNT SERVER_CMD [ARGS...]
const { spawn } = require("node:child_process");
const { readFileSync } = require("node:fs");
const [root, count, cmd, ...args] = process.argv.slice(2);
const n = Number(count);
const server = spawn(cmd, [...args, "serve", "--root", root], { stdio: ["pipe", "pipe", "ignore"] });
const send = (m) => server.stdin.write(`${JSON.stringify(m)}\n`);
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))[1]) >> 10;
send({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "slow", version: "1" } } });
send({ jsonrpc: "2.0", method: "notifications/initialized" });
let next = 1;
let peak = 0;
const sender = setInterval(() => {
  peak = Math.max(peak, rss());
  if (next <= n) send({ jsonrpc: "2.0", id: next++, method: "tools/call", params: { name: "read_file", arguments: { path: "big.txt" } } });
}, 30);
setTimeout(() => {
  clearInterval(sender);
  peak = Math.max(peak, rss());
  let lines = 0;
  server.stdout.on("data", (d) => {
    for (const b of d) if (b === 10) lines++;
    if (lines === n + 1) {
      console.log(JSON.stringify({ peakMiB: peak, responses: lines }));
      server.kill();
    }
  });
}, 30 * n + 3000);
