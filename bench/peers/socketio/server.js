'use strict';
// The Socket.IO relay that tether-bench measures Tether's relay against.
//
// Written the way Socket.IO's own docs pair a desktop and a phone: one room per
// device that watching clients join, events for telemetry and hello, and
// acknowledgements for the command/result round trip. It speaks the subset of
// Tether's envelope the benchmark needs (hello, telemetry, command, result,
// routed by device id), with no accounts: a socket says who it is in the
// handshake's auth payload ({role:"agent",device} or {role:"client",devices}).
//
// Tuned as the Socket.IO "performance tuning" guide says: WebSocket transport
// only, no per-message deflate, bufferutil/utf-8-validate installed, and the
// initial HTTP request dropped to save memory per connection.
//
// Usage: node server.js [port]   (prints "listening <port>" when ready; SIGTERM stops it)

const http = require('node:http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || process.env.PORT || 0);
const commandTimeoutMs = 20000;

const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 8 * 1024 * 1024,
});

// Performance tuning: the handshake request is not needed after the upgrade.
io.engine.on('connection', (raw) => {
  raw.request = null;
});

const agents = new Map(); // device id -> agent socket
const room = (device) => 'device:' + device;

io.on('connection', (socket) => {
  const auth = socket.handshake.auth || {};
  if (auth.role === 'agent' && typeof auth.device === 'string' && auth.device) {
    const device = auth.device;
    const old = agents.get(device);
    if (old) old.disconnect(true);
    agents.set(device, socket);
    socket.data.device = device;
    socket.on('hello', (hello) => {
      socket.data.hello = hello;
    });
    socket.on('telemetry', (msg) => {
      if (!msg || typeof msg !== 'object') return;
      msg.device = device;
      socket.to(room(device)).emit('telemetry', msg);
    });
    socket.on('disconnect', () => {
      if (agents.get(device) === socket) agents.delete(device);
    });
    return;
  }
  if (auth.role === 'client' && Array.isArray(auth.devices)) {
    const devices = new Set(auth.devices.filter((d) => typeof d === 'string'));
    for (const d of devices) socket.join(room(d));
    socket.on('command', (msg, ack) => {
      if (typeof ack !== 'function' || !msg || typeof msg !== 'object') return;
      const fail = (code, message) =>
        ack({ type: 'result', id: msg.id, device: msg.device, ok: false, error: { code, message } });
      if (!devices.has(msg.device)) return fail('not_paired', 'not paired with this device');
      const agent = agents.get(msg.device);
      if (!agent || !agent.data.hello) return fail('device_offline', 'the device is offline');
      agent.timeout(commandTimeoutMs).emit('command', msg, (err, result) => {
        if (err) return fail('timeout', 'the device did not answer in time');
        ack({ type: 'result', id: msg.id, device: msg.device, ok: !!(result && result.ok), error: result && result.error });
      });
    });
    return;
  }
  socket.disconnect(true);
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log('listening ' + httpServer.address().port);
});

process.on('SIGTERM', () => {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 10000).unref();
});
