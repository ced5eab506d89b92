// The target of the scale benchmark (benchmarks/scale.py): idle WebSocket connections, pinged, held
// by several Node processes that share one port (Node's cluster: the primary accepts and hands each
// connection to a worker in turn), because one process may hold only as many connections as it may
// open files (ulimit -n).
//
//   node benchmarks/idle_target.js --port PORT --workers 6 [--ping-s 20]
//
// Each worker pings its connections every --ping-s seconds and terminates one that did not answer the
// previous ping with a pong (the usual heartbeat), answers a message with itself (echo), and reports
// its counts to the primary every half second. The primary prints `LISTENING <port> STATS <port>` once
// every worker listens, and answers GET /stats on the second port with the workers' counts summed
// (connections open, pings sent, pongs received, connections terminated for a missed pong, each
// worker's resident memory). A line `pause` on its standard input stops the pings (and the dropping
// of connections that missed one) until a line `resume` (benchmarks/idle_pongs.py measures the
// client's CPU with and without them). It exits when its standard input closes or on SIGTERM, and
// its workers with it.
"use strict";

const cluster = require("cluster");
const http = require("http");

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const port = Number(option("port", "0"));
const workers = Number(option("workers", "1"));
const pingS = Number(option("ping-s", "20"));

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const counts = new Map();
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    worker.on("message", (message) => {
      if (message === "listening") {
        listening += 1;
        if (listening === workers) stats.listen({ host: "127.0.0.1", port: 0 }, announce);
      } else {
        counts.set(worker.id, message);
      }
    });
  }
  const stats = http.createServer((request, response) => {
    const total = { connections: 0, pings: 0, pongs: 0, terminated: 0, messages: 0, rss_bytes: [] };
    for (const worker of counts.values()) {
      for (const key of ["connections", "pings", "pongs", "terminated", "messages"]) total[key] += worker[key];
      total.rss_bytes.push(worker.rss_bytes);
    }
    total.workers_reporting = counts.size;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(total));
  });
  const announce = () => process.stdout.write(`LISTENING ${port} STATS ${stats.address().port}\n`);
  const stop = () => {
    for (const worker of Object.values(cluster.workers)) worker.kill();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text) => {
    for (const line of text.split("\n")) {
      if (line.trim() !== "pause" && line.trim() !== "resume") continue;
      for (const worker of Object.values(cluster.workers)) worker.send({ pinging: line.trim() === "resume" });
    }
  });
  process.stdin.resume();
} else {
  const { WebSocketServer } = require("ws");
  const counts = { connections: 0, pings: 0, pongs: 0, terminated: 0, messages: 0, rss_bytes: 0 };
  let pinging = true;
  process.on("message", (message) => {
    pinging = message.pinging;
  });
  const server = http.createServer((request, response) => {
    response.writeHead(404);
    response.end();
  });
  server.maxConnections = 0;
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: true });
  wss.on("connection", (socket) => {
    counts.connections += 1;
    socket.isAlive = true;
    socket.on("pong", () => {
      socket.isAlive = true;
      counts.pongs += 1;
    });
    socket.on("message", (data, isBinary) => {
      counts.messages += 1;
      socket.send(data, { binary: isBinary });
    });
    socket.on("close", () => {
      counts.connections -= 1;
    });
    socket.on("error", () => {});
  });
  setInterval(() => {
    if (!pinging) return;
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
  setInterval(() => {
    counts.rss_bytes = process.memoryUsage.rss();
    process.send(counts);
  }, 500);
  server.listen({ host: "127.0.0.1", port, backlog: 4096 }, () => process.send("listening"));
  process.on("disconnect", () => process.exit(0));
}
