// broker.js - the anchor's WebSocket broadcast broker (anchors-measured.md row 2a), built on `ws`:
// every text message from a client goes to every other open client, unchanged.
// Usage: node broker.js PORT_FILE   (listens on 127.0.0.1, port chosen by the kernel;
// writes the port to PORT_FILE once listening)
'use strict';
const fs = require('fs');
const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const c of wss.clients)
      if (c !== ws && c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
  });
});
wss.on('listening', () => { // atomically, so that a reader never sees half of it
  fs.writeFileSync(`${process.argv[2]}.tmp`, `${wss.address().port}\n`);
  fs.renameSync(`${process.argv[2]}.tmp`, process.argv[2]);
});
process.on('SIGTERM', () => process.exit(0));
