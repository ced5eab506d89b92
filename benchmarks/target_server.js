// The benchmarks' target: a WebSocket server on 127.0.0.1 built on Node's `ws` (npm), so that the
// target is not the bottleneck of a measurement of the load generator.
//
//   node benchmarks/target_server.js --mode echo|stream [--port 0] [--chunks 100] [--ttft-ms 0]
//                                    [--gap-ms 0] [--ping-s 0] [--deflate 0|1]
//
// echo    every message is sent back as it came (one text frame: a `plain` reply).
// stream  every message is answered with --chunks JSON messages {"type":"chunk","text":"..."} then
//         {"type":"end"} (the `json` protocol's defaults). The first chunk is sent --ttft-ms after
//         the prompt, each next one --gap-ms after the previous (0: at once, in one burst).
// --ping-s N pings every connection every N seconds; a connection that did not answer the previous
//         ping with a pong is terminated (the usual heartbeat).
// --deflate 1 accepts permessage-deflate when a client offers it, and then compresses every
//         message, however small (ws's own threshold of 1 KiB would leave short replies alone).
//
// It prints `LISTENING <port>` on stdout once it listens. GET /stats answers JSON counts:
// connections open, messages received, pings sent, pongs received, connections terminated for a
// missed pong, connections that agreed permessage-deflate. It exits when its standard input closes (its parent is gone) or on SIGTERM.
"use strict";

const http = require("http");
const { WebSocketServer } = require("ws");

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const mode = option("mode", "echo");
const port = Number(option("port", "0"));
const chunks = Number(option("chunks", "100"));
const ttftMs = Number(option("ttft-ms", "0"));
const gapMs = Number(option("gap-ms", "0"));
const pingS = Number(option("ping-s", "0"));
const deflate = option("deflate", "0") === "1";

const counts = { connections: 0, messages: 0, pings: 0, pongs: 0, terminated: 0, deflated: 0, cpu_s: 0 };

const server = http.createServer((request, response) => {
  if (request.url === "/stats") {
    const usage = process.cpuUsage();
    counts.cpu_s = (usage.user + usage.system) / 1e6;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(counts));
    return;
  }
  response.writeHead(404);
  response.end();
});
server.maxConnections = 0; // no limit but the process's open files
const wss = new WebSocketServer({
  server,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  clientTracking: true,
});

const CHUNK = JSON.stringify({ type: "chunk", text: "token " });
const END = JSON.stringify({ type: "end" });

function streamReply(socket) {
  if (gapMs <= 0 && ttftMs <= 0) {
    // One burst: every frame is queued before the socket is written (ws corks a burst itself).
    for (let i = 0; i < chunks; i++) socket.send(CHUNK);
    socket.send(END);
    return;
  }
  // Timed from the prompt's arrival: chunk i is due at ttft + i * gap, so timer lateness does not
  // accumulate along the reply.
  const start = performance.now();
  let sent = 0;
  const next = () => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(CHUNK);
    sent += 1;
    if (sent >= chunks) {
      socket.send(END);
      return;
    }
    const due = start + ttftMs + sent * gapMs;
    setTimeout(next, Math.max(0, due - performance.now()));
  };
  setTimeout(next, ttftMs);
}

wss.on("connection", (socket) => {
  counts.connections += 1;
  if (socket.extensions.includes("permessage-deflate")) counts.deflated += 1;
  socket.isAlive = true;
  socket.on("pong", () => {
    socket.isAlive = true;
    counts.pongs += 1;
  });
  socket.on("message", (data, isBinary) => {
    counts.messages += 1;
    if (mode === "echo") socket.send(data, { binary: isBinary });
    else streamReply(socket);
  });
  socket.on("close", () => {
    counts.connections -= 1;
  });
  socket.on("error", () => {});
});

if (pingS > 0) {
  setInterval(() => {
    for (const socket of wss.clients) {
      if (!socket.isAlive) {
        counts.terminated += 1;
        socket.terminate();
        continue;
      }
      socket.isAlive = false;
      socket.ping();
      counts.pings += 1;
    }
  }, pingS * 1000);
}

server.listen({ host: "127.0.0.1", port, backlog: 4096 }, () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
