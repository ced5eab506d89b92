// The benchmarks' target: a WebSocket server on 127.0.0.1 built on Node's `ws` (npm), so that the
// target is not the bottleneck of a measurement of the load generator.
//
//   node benchmarks/target_server.js --mode echo|stream|llm [--port 0] [--shape json]
//                                    [--chunks 100] [--ttft-ms 0] [--gap-ms 0] [--ping-s 0]
//                                    [--deflate 0|1] [--tls-cert PEM --tls-key PEM]
//                                    [--tokens 150-250] [--gaps-ms 20-40] [--seed 1] [--stamps 0|1]
//
// echo    every message is sent back as it came (one text frame: a `plain` reply).
// stream  every prompt is answered with --chunks messages then an end message, in the --shape's
//         format. The first chunk is sent --ttft-ms after the prompt, each next one --gap-ms after
//         the previous (0: at once, in one burst).
// llm     a chat bot's pace: the first token --ttft-ms (default 300) after the prompt, then a
//         number of tokens drawn from --tokens, each --gaps-ms after the previous (drawn per
//         token), from one random sequence seeded by --seed (the same replies every run). The end
//         message carries when the target sent the first chunk and the end, in ms after the
//         prompt arrived (`first_ms`, `end_ms`): a client's time beyond them is its own and the
//         network's, comparable between clients whatever reply each drew.
// --shape json            {"type":"chunk","text":"..."} ... {"type":"end"} (the `json` protocol's
//                         defaults; also the `apigw` protocol's)
//         openai-realtime the Realtime API's events: a prompt is conversation.item.create then
//                         response.create; the latter is answered with response.created, the
//                         response.output_text.delta events, then response.done (completed)
// --ping-s N pings every connection every N seconds; a connection that did not answer the previous
//         ping with a pong is terminated (the usual heartbeat).
// --deflate 1 accepts permessage-deflate when a client offers it, and then compresses every
//         message, however small (ws's own threshold of 1 KiB would leave short replies alone).
// --tls-cert/--tls-key serve wss:// (and https:// /stats) with this certificate and key.
// --stamps 1 (stream mode, paced) the end message carries `stamps`: the system's monotonic clock in
//         ms (CLOCK_MONOTONIC on Linux, which Python's time.monotonic() reads in any process) when
//         the prompt was handled, when each chunk was handed to the socket, and when the end was:
//         a debug run can split a client's times into the target's and the delivery's, per reply.
//
// It prints `LISTENING <port>` on stdout once it listens. GET /stats answers JSON counts:
// connections open, messages received, chunks sent, pings sent, pongs received, connections
// terminated for a missed pong, connections that agreed permessage-deflate, CPU seconds, and the
// timers' lateness (ms, the worst and the sum: a target too busy to keep its pace shows there). It
// exits when its standard input closes (its parent is gone) or on SIGTERM.
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");
const { WebSocketServer } = require("ws");

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

function range(text) {
  const [low, high] = text.split("-").map(Number);
  return [low, high === undefined ? low : high];
}

const mode = option("mode", "echo");
const shape = option("shape", "json");
const port = Number(option("port", "0"));
const chunks = Number(option("chunks", "100"));
const ttftMs = Number(option("ttft-ms", mode === "llm" ? "300" : "0"));
const gapMs = Number(option("gap-ms", "0"));
const pingS = Number(option("ping-s", "0"));
const deflate = option("deflate", "0") === "1";
const tlsCert = option("tls-cert", "");
const tlsKey = option("tls-key", "");
const stamps = option("stamps", "0") === "1";
const [tokensMin, tokensMax] = range(option("tokens", "150-250"));
const [gapMinMs, gapMaxMs] = range(option("gaps-ms", "20-40"));
let seed = Number(option("seed", "1")) >>> 0;

// mulberry32: a small seeded generator, so that the llm mode's replies are the same every run.
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const counts = {
  connections: 0, messages: 0, chunks: 0, pings: 0, pongs: 0, terminated: 0, deflated: 0, cpu_s: 0,
  late_max_ms: 0, late_sum_ms: 0, late_count: 0,
};

function handle(request, response) {
  if (request.url === "/stats") {
    const usage = process.cpuUsage();
    counts.cpu_s = (usage.user + usage.system) / 1e6;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(counts));
    return;
  }
  response.writeHead(404);
  response.end();
}
const server = tlsCert
  ? https.createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(tlsKey) }, handle)
  : http.createServer(handle);
server.maxConnections = 0; // no limit but the process's open files
const wss = new WebSocketServer({
  server,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  clientTracking: true,
});

// One reply's messages in the chosen shape: its chunk, its end, and (Realtime) its opening event.
let replies = 0;
function replyFormat(timing) {
  replies += 1;
  if (shape === "openai-realtime") {
    const id = `resp_${replies.toString(36).padStart(8, "0")}`;
    const head = `{"type":"response.output_text.delta","response_id":"${id}","item_id":"item_${id}",`
      + `"output_index":0,"content_index":0,"delta":"token "`;
    let events = 0;
    return {
      start: JSON.stringify({ type: "response.created", response: { id, status: "in_progress" } }),
      chunk: () => `${head},"event_id":"event_${(events += 1)}"}`,
      end: (extra) => JSON.stringify({
        type: "response.done",
        response: { id, status: "completed", usage: { output_tokens: events }, ...extra },
      }),
    };
  }
  return { start: null, chunk: () => CHUNK, end: (extra) => JSON.stringify({ type: "end", ...extra }) };
}

const CHUNK = JSON.stringify({ type: "chunk", text: "token " });
// The llm mode's chunk as one whole server frame (final, text, unmasked, under 126 bytes), written
// straight to the connection's socket: ws's framing of each send would cost the target more than
// the client's reading costs the client, at tens of thousands of chunks a second. Nothing else is
// sent meanwhile (no compression: ws writes each of its frames at once, in order).
const CHUNK_FRAME = textFrame(CHUNK);

// One final, unmasked text frame holding `text` (a server's frame: the llm mode's chunks and end).
function textFrame(text) {
  const payload = Buffer.from(text);
  const size = payload.length;
  const head = size < 126 ? Buffer.from([0x81, size])
    : Buffer.from([0x81, 126, size >> 8, size & 0xff]); // the llm mode's messages are < 64 KiB
  return Buffer.concat([head, payload]);
}

// Writes a whole frame to the connection's TCP socket through the stream's own write (net.Socket's
// `_writeGeneric`: the handle's write, done at once when the kernel takes it, queued in order by
// libuv when not), skipping the Writable machinery of `socket.write` (its buffering state, its
// callbacks): most of the target's user-space CPU a chunk is its JavaScript, the kernel's TCP work
// (the loopback's receive at the client included) the rest. Every llm-mode message goes this way
// once the connection is open (ws sends nothing meanwhile), so none can overtake another. A write
// that fails (the client gone) is left to the connection's read side, which sees the close.
function noop() {}
function writeFrame(tcp, frame) {
  tcp._writeGeneric(false, frame, "buffer", noop);
}

// Whether a message is a prompt to answer (a Realtime prompt is two events: answer the second).
function isPrompt(data) {
  return shape !== "openai-realtime" || data.includes('"response.create"');
}

function burst(socket, format) {
  // One burst: every frame is queued before the socket is written (ws corks a burst itself).
  if (format.start) socket.send(format.start);
  for (let i = 0; i < chunks; i++) socket.send(format.chunk());
  counts.chunks += chunks;
  socket.send(format.end({}));
}

// The system's monotonic clock (CLOCK_MONOTONIC on Linux, as Python's time.monotonic()), in ms.
function monotonicMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

// Sends `count` chunks, the first `firstMs` after `start` (performance.now() at the prompt), each
// next one after the previous by `gap()` ms; due times are kept, so timer lateness does not
// accumulate along the reply.
function paced(socket, format, start, firstMs, count, gap, stamp) {
  if (format.start) socket.send(format.start);
  const times = stamps ? [monotonicMs()] : null; // the prompt's, then each chunk's send
  let sent = 0;
  let due = start + firstMs;
  let firstSentMs = null;
  const next = () => {
    if (socket.readyState !== socket.OPEN) return;
    const now = performance.now();
    if (sent === 0 && now < due) {
      // Node's timers compare against the event loop's cached time (whole ms, taken when the loop
      // last woke), so one may fire before its due time: the first chunk waits for the rest, so no
      // time to first chunk is shorter than the one asked for. (Later chunks keep the timers'
      // granularity: a chunk early by a fraction of a gap is not held back by a whole ms.)
      setTimeout(next, Math.ceil(due - now));
      return;
    }
    const late = now - due;
    if (late > counts.late_max_ms) counts.late_max_ms = late;
    counts.late_sum_ms += late;
    counts.late_count += 1;
    if (times) times.push(monotonicMs());
    socket.send(format.chunk());
    counts.chunks += 1;
    sent += 1;
    if (firstSentMs === null) firstSentMs = now - start;
    if (sent >= count) {
      const extra = stamp ? { first_ms: firstSentMs, end_ms: performance.now() - start } : {};
      if (times) {
        times.push(monotonicMs());
        extra.stamps = times;
      }
      socket.send(format.end(extra));
      return;
    }
    due += gap();
    setTimeout(next, Math.max(0, due - performance.now()));
  };
  setTimeout(next, Math.max(0, due - performance.now()));
}

// The llm mode's schedule: one timer for the whole process instead of one a chunk. Each reply waits
// in the bucket of the whole millisecond its next chunk is due in (rounded up: no chunk goes out
// early); one tick a millisecond writes every chunk due by then, each the pre-built CHUNK_FRAME.
// Due times are kept, so lateness does not accumulate along a reply; but a tick writes at most one
// chunk a reply (the next waits for the next tick even when already due), so a target that fell
// behind catches up a chunk a millisecond a reply, serving its sockets between ticks, instead of
// writing whole replies in one tick that would hold the event loop for seconds.
const buckets = new Map(); // whole ms -> the replies whose next chunk is due then
let swept = Math.floor(performance.now()); // every bucket up to this ms has been written
let horizon = swept; // the last ms the tick under way writes (a chunk scheduled now goes after it)
let ticker = null;

function schedule(reply) {
  const key = Math.max(Math.ceil(reply.due), horizon + 1);
  const bucket = buckets.get(key);
  if (bucket) bucket.push(reply);
  else buckets.set(key, [reply]);
  if (ticker === null) {
    swept = horizon = Math.floor(performance.now());
    ticker = setInterval(tick, 1);
  }
}

function tick() {
  const now = performance.now();
  horizon = Math.floor(now);
  while (swept < horizon) {
    swept += 1;
    const bucket = buckets.get(swept);
    if (bucket === undefined) continue;
    buckets.delete(swept);
    for (const reply of bucket) writeChunk(reply, now);
  }
  if (buckets.size === 0) {
    clearInterval(ticker);
    ticker = null;
  }
}

function writeChunk(reply, now) {
  const socket = reply.socket;
  if (socket.readyState !== socket.OPEN) return;
  const late = now - reply.due;
  if (late > counts.late_max_ms) counts.late_max_ms = late;
  counts.late_sum_ms += late;
  counts.late_count += 1;
  writeFrame(socket._socket, CHUNK_FRAME);
  counts.chunks += 1;
  reply.sent += 1;
  if (reply.firstSentMs === null) reply.firstSentMs = performance.now() - reply.start;
  if (reply.sent >= reply.count) {
    const endMs = performance.now() - reply.start;
    const end = JSON.stringify({ type: "end", first_ms: reply.firstSentMs, end_ms: endMs });
    writeFrame(socket._socket, textFrame(end));
    return;
  }
  reply.due += gapMinMs + random() * (gapMaxMs - gapMinMs);
  schedule(reply);
}

function answer(socket) {
  const start = performance.now();
  if (mode === "llm" && !deflate && shape === "json") {
    const count = tokensMin + Math.floor(random() * (tokensMax - tokensMin + 1));
    schedule({ socket, start, due: start + ttftMs, count, sent: 0, firstSentMs: null });
    return;
  }
  const format = replyFormat();
  if (mode === "llm") {
    const tokens = tokensMin + Math.floor(random() * (tokensMax - tokensMin + 1));
    const gap = () => gapMinMs + random() * (gapMaxMs - gapMinMs);
    paced(socket, format, start, ttftMs, tokens, gap, true);
  } else if (gapMs <= 0 && ttftMs <= 0) {
    burst(socket, format);
  } else {
    paced(socket, format, start, ttftMs, chunks, () => gapMs, false);
  }
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
    else if (isPrompt(data)) answer(socket);
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
