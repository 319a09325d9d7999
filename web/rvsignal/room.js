/* room.js - the rvsignal room page: a mesh video call with text chat and
 * screen sharing, over the rvsignal JSON protocol on ws(s)://HOST/ws.
 *
 * One RTCPeerConnection per remote peer. The newcomer offers to every peer
 * listed in "state"; peers that arrive later ("joined") are waited for: they
 * send the offer. So exactly one side of each pair offers and there is no
 * glare. Candidates trickle as {"type":"candidate","to":ID,"candidate":...}.
 *
 * URL: /room/NAME (default room "lobby"), ?name=N prefills the name,
 * ?autojoin=1 joins at once when a name is given, ?relay=1 forces
 * iceTransportPolicy "relay" (TURN only), ?token=JWT (or #token=JWT, kept
 * out of server logs) is sent with the join when the server requires one.
 *
 * For tests: window.rv = { id, room, name, state, peers (Map id ->
 * RTCPeerConnection), names (Map id -> name), chat (received messages),
 * error (last error message), sharing, iceServers, layout ({n, cols, w, h}
 * of the tiles), ws, send(msg), leave() }.
 * Standard WebRTC API only (Chromium and Firefox). */
(() => {
  'use strict';

  const $ = window.rvui.$;
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = hash.get('token') || params.get('token') || '';

  function roomFromPath() {
    const m = location.pathname.match(/^\/room\/([^/]+)\/?$/);
    if (m) {
      try { return decodeURIComponent(m[1]); } catch (e) { return m[1]; }
    }
    return 'lobby';
  }

  const rv = {
    id: null,
    room: roomFromPath(),
    name: params.get('name') || '',
    state: 'idle',        // idle | connecting | joined | full | denied | left | disconnected | error
    peers: new Map(),     // id -> RTCPeerConnection
    names: new Map(),     // id -> display name
    chat: [],             // received chat: {from, name, text, time}
    error: null,
    sharing: false,
    iceServers: [],
    relay: params.get('relay') === '1',
    send: (msg) => send(msg),
    leave: () => leave(),
    get ws() { return ws; },  // the signalling socket (for diagnostics and tests)
  };
  window.rv = rv;

  let ws = null;
  let resumeToken = null;
  let resumeTries = 0;
  let wantOnline = false;     // true between Join and Leave
  let localStream = null;     // camera + microphone
  const extra = new Map();    // id -> {stream, pending candidates, tile, offerer}

  const { setStatus, notice, showCall, chatLine, makeTile } = window.rvui;

  function tileState(id, state) {
    const x = extra.get(id);
    if (x) window.rvui.tileState(x.tile, state);
  }

  /* ---- signalling ---- */

  // Outgoing messages go through a small token bucket so that a burst of
  // trickled candidates stays below the server's per-connection rate.
  const outq = [];
  let tokens = 40, tokensAt = performance.now(), pumpTimer = null;
  const RATE = 30;

  function pump() {
    pumpTimer = null;
    const now = performance.now();
    tokens = Math.min(2 * RATE, tokens + (now - tokensAt) * RATE / 1000);
    tokensAt = now;
    while (outq.length && tokens >= 1 && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(outq.shift()));
      tokens -= 1;
    }
    if (outq.length && ws && ws.readyState === WebSocket.OPEN)
      pumpTimer = setTimeout(pump, Math.ceil(1000 / RATE));
  }

  function send(msg) {
    outq.push(msg);
    if (!pumpTimer) pump();
  }

  function wsURL() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let u = proto + '//' + location.host + '/ws';
    if (resumeToken) u += '?resume=' + encodeURIComponent(resumeToken);
    return u;
  }

  function connect() {
    rv.state = 'connecting';
    setStatus('connecting…');
    const sock = new WebSocket(wsURL());
    ws = sock;
    sock.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m && typeof m.type === 'string') onMessage(m);
    };
    sock.onopen = () => pump();
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      if (!wantOnline) return;
      // Lost while in the room: try to resume the same session (same id,
      // same rooms, missed messages replayed); the calls themselves go on.
      if (resumeToken && resumeTries < 5) {
        const delay = 500 * Math.pow(2, resumeTries++);
        setStatus('connection lost, reconnecting…', 'err');
        setTimeout(() => { if (wantOnline && !ws) connect(); }, delay);
        return;
      }
      rv.state = 'disconnected';
      setStatus('disconnected from the server', 'err');
      notice('Lost the connection to the signalling server.');
    };
  }

  function onMessage(m) {
    switch (m.type) {
    case 'welcome': return onWelcome(m);
    case 'state': return onState(m);
    case 'joined': return onJoined(m);
    case 'left': return m.peer && dropPeer(m.peer.id, 'left');
    case 'bye': return m.from && dropPeer(m.from, 'hung up');
    case 'offer': return onOffer(m);
    case 'answer': return onAnswer(m);
    case 'candidate': return onCandidate(m);
    case 'chat': return onChat(m);
    case 'error': return onError(m);
    case 'pong': return;
    default: return;
    }
  }

  function onWelcome(m) {
    const resumed = m.resumed === true && rv.id === m.id;
    rv.id = m.id;
    resumeToken = m.resume || null;
    resumeTries = 0;
    if (Array.isArray(m.iceServers)) rv.iceServers = m.iceServers;
    if (resumed) {
      rv.state = 'joined';
      setStatus('in room ' + rv.room + ' as ' + rv.name, 'ok');
      return;
    }
    // A new session (none before, or the old one expired): calls made
    // under an old id cannot be signalled any more, start over.
    closeAll();
    const j = { type: 'join', room: rv.room, name: rv.name };
    if (token) j.token = token;
    send(j);
  }

  function onState(m) {
    if (m.room !== rv.room) return;
    rv.state = 'joined';
    setStatus('in room ' + rv.room + ' as ' + rv.name, 'ok');
    notice('');
    showCall(true);
    const list = Array.isArray(m.peers) ? m.peers : [];
    if (!list.length) chatLine('', 'You are the first one in ' + rv.room + '.', 'sys');
    for (const p of list) {
      if (!p || !p.id || p.id === rv.id) continue;
      rv.names.set(p.id, p.name || p.id);
      call(p.id);
    }
  }

  function onJoined(m) {
    if (m.room !== rv.room || !m.peer || !m.peer.id) return;
    rv.names.set(m.peer.id, m.peer.name || m.peer.id);
    chatLine('', (m.peer.name || m.peer.id) + ' joined', 'sys');
    // The newcomer offers; make the tile now so the user sees them arrive.
    peerEntry(m.peer.id);
  }

  function onError(m) {
    rv.error = m.message || m.code;
    if (m.code === 'room-full' && m.re === 'join') {
      rv.state = 'full';
      wantOnline = false;
      setStatus('room full', 'err');
      notice('The room "' + rv.room + '" is full. Try again later or pick another room.');
      abortJoin();
      return;
    }
    if (m.code === 'denied' && m.re === 'join') {
      rv.state = 'denied';
      wantOnline = false;
      setStatus('not admitted', 'err');
      notice('You may not join "' + rv.room + '": ' + (m.message || 'denied') + '.');
      abortJoin();
      return;
    }
    if (m.re === 'join') {
      rv.state = 'error';
      wantOnline = false;
      setStatus('cannot join', 'err');
      notice('Cannot join "' + rv.room + '": ' + (m.message || m.code) + '.');
      abortJoin();
      return;
    }
    if (m.code === 'not-found' && m.re === 'resume') return;
    chatLine('', 'server: ' + (m.message || m.code), 'sys');
  }

  // The join was refused: back to the join form, camera off.
  function abortJoin() {
    closeAll();
    const sock = ws;
    ws = null;
    if (sock) sock.close(1000, 'not admitted');
    stopLocal();
    showCall(false);
  }

  function stopLocal() {
    if (localStream) { for (const t of localStream.getTracks()) t.stop(); localStream = null; }
    const lt = document.querySelector('.tile.local');
    if (lt) lt.remove();
  }

  /* ---- media ---- */

  async function getLocalMedia() {
    if (!localStream) localStream = await window.rvui.localMedia((e) => { rv.mediaError = e; });
    return localStream;
  }

  function localTrack(kind) {
    if (kind === 'video' && share.track) return share.track;
    const t = localStream ? localStream.getTracks().find((x) => x.kind === kind) : null;
    return t || null;
  }

  function showLocal() {
    let tile = document.querySelector('.tile.local');
    if (!tile) tile = makeTile('self', (rv.name || 'me') + ' (you)', true);
    const v = tile.querySelector('video');
    const s = new MediaStream();
    const vt = localTrack('video');
    if (vt) s.addTrack(vt);
    v.srcObject = s;
    tile.classList.toggle('sharing', !!share.track);
    v.play().catch(() => {});
  }

  /* ---- peer connections ---- */

  function peerEntry(id) {
    let x = extra.get(id);
    if (!x) {
      x = { stream: new MediaStream(), pending: [], tile: null, offerer: false, restarted: false };
      extra.set(id, x);
    }
    if (!x.tile) {
      x.tile = makeTile(id, rv.names.get(id) || id, false);
      x.tile.querySelector('video').srcObject = x.stream;
      tileState(id, 'waiting');
    }
    return x;
  }

  function newPC(id) {
    const x = peerEntry(id);
    const cfg = { iceServers: rv.iceServers };
    if (rv.relay) cfg.iceTransportPolicy = 'relay';
    let pc;
    try {
      pc = new RTCPeerConnection(cfg);
    } catch (e) {
      // An ICE server entry this browser refuses: keep the ones it accepts.
      cfg.iceServers = rv.iceServers.filter((srv) => {
        try { new RTCPeerConnection({ iceServers: [srv] }).close(); return true; } catch (e2) { return false; }
      });
      chatLine('', 'some ICE servers were refused by the browser: ' + e, 'sys');
      pc = new RTCPeerConnection(cfg);
    }
    rv.peers.set(id, pc);
    pc.onicecandidate = (e) => {
      if (e.candidate) send({ type: 'candidate', to: id, candidate: e.candidate.toJSON() });
    };
    pc.ontrack = (e) => {
      const tr = e.track;
      for (const old of x.stream.getTracks())
        if (old.kind === tr.kind && old !== tr) x.stream.removeTrack(old);
      if (!x.stream.getTracks().includes(tr)) x.stream.addTrack(tr);
      const v = x.tile && x.tile.querySelector('video');
      if (v) {
        if (v.srcObject !== x.stream) v.srcObject = x.stream;
        v.play().catch(() => {});
      }
    };
    pc.onconnectionstatechange = () => {
      if (rv.peers.get(id) !== pc) return;
      tileState(id, pc.connectionState);
      // The offering side restarts ICE once if the path failed.
      if (pc.connectionState === 'failed' && x.offerer && !x.restarted) {
        x.restarted = true;
        offer(id, pc, true).catch((e) => console.warn('ice restart', e));
      }
    };
    return pc;
  }

  async function offer(id, pc, iceRestart) {
    const desc = await pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
    await pc.setLocalDescription(desc);
    send({ type: 'offer', to: id, sdp: pc.localDescription.sdp });
  }

  // We are the newcomer: offer to a peer that was already in the room.
  async function call(id) {
    if (rv.peers.has(id)) return;
    const pc = newPC(id);
    extra.get(id).offerer = true;
    await getLocalMedia();
    if (rv.peers.get(id) !== pc) return;
    for (const kind of ['audio', 'video']) {
      // Always one audio and one video transceiver, sending what we have,
      // so screen sharing later needs only replaceTrack (no renegotiation).
      pc.addTransceiver(localTrack(kind) || kind, { direction: 'sendrecv', streams: [localStream] });
    }
    try {
      await offer(id, pc, false);
    } catch (e) {
      chatLine('', 'could not call ' + (rv.names.get(id) || id) + ': ' + e, 'sys');
    }
  }

  async function onOffer(m) {
    const id = m.from;
    if (!id || typeof m.sdp !== 'string') return;
    let pc = rv.peers.get(id);
    const fresh = !pc;
    if (fresh) pc = newPC(id);
    const x = extra.get(id);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      if (fresh) {
        await getLocalMedia();
        for (const t of pc.getTransceivers()) {
          const kind = t.receiver.track.kind;
          const track = localTrack(kind);
          if (track) await t.sender.replaceTrack(track);
          if (t.sender.setStreams && localStream) t.sender.setStreams(localStream);
          t.direction = 'sendrecv';
        }
      }
      await flushCandidates(pc, x);
      const ans = await pc.createAnswer();
      await pc.setLocalDescription(ans);
      send({ type: 'answer', to: id, sdp: pc.localDescription.sdp });
    } catch (e) {
      chatLine('', 'could not answer ' + (rv.names.get(id) || id) + ': ' + e, 'sys');
    }
  }

  async function onAnswer(m) {
    const pc = rv.peers.get(m.from);
    if (!pc || typeof m.sdp !== 'string' || pc.signalingState !== 'have-local-offer') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      await flushCandidates(pc, extra.get(m.from));
    } catch (e) {
      chatLine('', 'bad answer from ' + (rv.names.get(m.from) || m.from) + ': ' + e, 'sys');
    }
  }

  async function onCandidate(m) {
    const id = m.from;
    if (!id || !m.candidate) return;
    const pc = rv.peers.get(id);
    const x = peerEntry(id);
    if (!pc || !pc.remoteDescription) {
      if (x.pending.length < 200) x.pending.push(m.candidate);
      return;
    }
    try { await pc.addIceCandidate(m.candidate); } catch (e) { console.warn('candidate', e); }
  }

  async function flushCandidates(pc, x) {
    if (!x) return;
    const list = x.pending.splice(0);
    for (const c of list) {
      try { await pc.addIceCandidate(c); } catch (e) { console.warn('candidate', e); }
    }
  }

  function dropPeer(id, why) {
    if (!rv.peers.has(id) && !extra.has(id)) return;
    const pc = rv.peers.get(id);
    if (pc) { try { pc.close(); } catch (e) { /* closed */ } }
    rv.peers.delete(id);
    const x = extra.get(id);
    if (x) {
      if (x.tile) x.tile.remove();
      extra.delete(id);
    }
    if (why) chatLine('', (rv.names.get(id) || id) + ' ' + why, 'sys');
  }

  function closeAll() {
    for (const id of [...new Set([...rv.peers.keys(), ...extra.keys()])]) dropPeer(id);
  }

  /* ---- screen sharing ---- */

  // rv.sharing turns true once every sender carries the screen, and false
  // once every sender is back on the camera.
  const share = window.rvui.sharer({
    camera: () => localTrack('video'),
    apply: (track) => setVideoEverywhere(track),
    changed: (on) => { rv.sharing = on; showLocal(); },
  });

  async function setVideoEverywhere(track) {
    const jobs = [];
    for (const pc of rv.peers.values()) {
      for (const t of pc.getTransceivers()) {
        if (t.stopped || t.currentDirection === 'stopped') continue;
        const kind = (t.sender.track && t.sender.track.kind) || t.receiver.track.kind;
        if (kind === 'video') jobs.push(t.sender.replaceTrack(track).catch((e) => console.warn('replaceTrack', e)));
      }
    }
    await Promise.all(jobs);
  }

  /* ---- join / leave ---- */

  async function join(name, room) {
    rv.name = name;
    rv.room = room;
    rv.error = null;
    notice('');
    window.rvui.showRoom('rvsignal', name, room);
    $('join-btn').disabled = true;
    wantOnline = true;
    resumeToken = null;
    resumeTries = 0;
    await getLocalMedia();
    showLocal();
    connect();
    $('join-btn').disabled = false;
  }

  function leave() {
    if (ws && ws.readyState === WebSocket.OPEN && rv.state === 'joined') {
      outq.length = 0;
      ws.send(JSON.stringify({ type: 'leave', room: rv.room }));
    }
    wantOnline = false;
    share.drop();
    rv.sharing = false;
    closeAll();
    const sock = ws;
    ws = null;
    if (sock) setTimeout(() => sock.close(1000, 'leave'), 200);
    stopLocal();
    rv.state = 'left';
    rv.id = null;
    setStatus('left the room');
    showCall(false);
    notice('You left "' + rv.room + '".', 'info');
  }

  /* ---- chat ---- */

  function onChat(m) {
    if (typeof m.text !== 'string') return;
    const name = rv.names.get(m.from) || (typeof m.name === 'string' && m.name) || m.from || '?';
    const entry = { from: m.from, name, text: m.text, time: Date.now() };
    rv.chat.push(entry);
    chatLine(name, m.text, '');
  }

  function sendChat(text) {
    if (!text || rv.state !== 'joined') return;
    send({ type: 'chat', room: rv.room, name: rv.name, text });
    chatLine(rv.name + ' (you)', text, 'mine');
  }

  /* ---- wiring ---- */

  function init() {
    window.rvui.autoLayout((l) => { rv.layout = l; });
    window.rvui.joinForm({ brand: 'rvsignal', name: rv.name, room: rv.room, idName: false, join });
    window.rvui.wireCall({
      stream: () => localStream, say: sendChat, leave, share: share.toggle,
    });
    window.addEventListener('pagehide', () => {
      if (ws && ws.readyState === WebSocket.OPEN && rv.state === 'joined')
        ws.send(JSON.stringify({ type: 'leave', room: rv.room }));
    });
    if (!window.rvui.validId(rv.room, 'room name')) return;
    if (rv.name && params.get('autojoin') === '1') join(rv.name, rv.room);
  }

  init();
})();
