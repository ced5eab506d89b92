// The voice benchmark's target: a WebSocket server on 127.0.0.1 built on Node's `ws` that takes
// audio turns as an OpenAI-Realtime-like server would, and costs little doing it.
//
//   node benchmarks/voice_target.js [--port 0] [--tls-cert PEM --tls-key PEM]
//
// Each text message is counted; one holding "input_audio_buffer.commit" (the end of an utterance)
// is answered at once with {"type":"response.done"}. Binary messages are counted too. It prints
// `LISTENING <port>` once it listens; GET /stats answers JSON counts (connections open, messages
// received, turns answered). It exits when its standard input closes or on SIGTERM.
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");
const { WebSocketServer } = require("ws");

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1] : fallback;
}
const port = Number(option("port", "0"));
// --tls-cert/--tls-key: serve wss:// (and https:// /stats) with this certificate and key.
const tlsCert = option("tls-cert", "");
const tlsKey = option("tls-key", "");
const counts = { connections: 0, messages: 0, turns: 0 };
const DONE = JSON.stringify({ type: "response.done" });

const handle = (request, response) => {
  if (request.url === "/stats") {
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify(counts));
  } else {
    response.writeHead(404);
    response.end();
  }
};
const server = tlsCert
  ? https.createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(tlsKey) }, handle)
  : http.createServer(handle);
// No UTF-8 check of each append (the load generator's JSON is ASCII): the target's CPU a message is
// what it must spend to receive it, and on a machine of two cores it shares the one the load
// generator does not use (the benchmark reports its CPU).
const wss = new WebSocketServer({
  server, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024, skipUTF8Validation: true,
});
wss.on("connection", (socket) => {
  counts.connections += 1;
  socket.on("close", () => { counts.connections -= 1; });
  socket.on("message", (data, isBinary) => {
    counts.messages += 1;
    // The commit is the only short message: an append carries kilobytes of audio.
    if (!isBinary && data.length < 200 && data.toString().includes("input_audio_buffer.commit")) {
      counts.turns += 1;
      socket.send(DONE);
    }
  });
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
process.on("SIGTERM", () => process.exit(0));
