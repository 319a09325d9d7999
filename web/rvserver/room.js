/* room.js - rvserver's conference page. A room is an rvserver group: each
 * browser publishes its camera and microphone once by WHIP (POST
 * /whip/GROUP?id=NAME, as its member NAME) and watches every other sender
 * of the group by WHEP (POST /whep/GROUP?id=NAME&from=SENDER: one
 * RTCPeerConnection per remote stream), with NAME's token when there is one. Presence and chat are RV group
 * messages on /rv (binary RV frames over WebSocket, rv-protocol(7)), so
 * `rvgroup join GROUP` in a shell sees and talks to the browsers, and
 * what `rvsend -g GROUP media` sends is one more tile.
 *
 * On /rv the page says hello as NAME (role recv), joins GROUP (its members
 * become tiles; "limit" is a full room) and watches with "media":false:
 * told of every stream to the group, sent none of its packets. A stream
 * event opens a WHEP viewer for its sender, stream-end closes it; joined
 * and left change the members; msg events are chat. The server ends a
 * browser that vanished (kill -9) when its WHIP session's consent runs
 * out, and the others then get stream-end and left.
 *
 * URL: /room/GROUP (default "lobby"), ?name=N prefills the name (an rv id),
 * ?autojoin=1 joins at once when a name is given, #token=T (or ?token=T)
 * is N's token when the server has --auth-secret-file (`rvserver token N`),
 * ?relay=1 takes TURN only (the ICE servers come from the server's Link
 * headers: rvserver --ice, --turn-secret-file).
 *
 * For tests: window.rv = { id, room, state (idle | connecting | joined |
 * full | denied | left | disconnected | error), members (Set of ids),
 * viewers (Map sender -> RTCPeerConnection), publisher (the WHIP
 * RTCPeerConnection), iceServers (from the Link headers), chat (received:
 * {from, text, time}), error, sharing,
 * layout, restarts (ICE restarts that came through), say(text), leave(),
 * iceRestart() (the publisher's, as on a failed connection) }. Standard
 * WebRTC API only. */
(() => {
  'use strict';

  const { $, setStatus, notice, showCall, chatLine, makeTile, tileState } = window.rvui;
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = hash.get('token') || params.get('token') || '';
  const enc = new TextEncoder(), dec = new TextDecoder();

  function roomFromPath() {
    const m = location.pathname.match(/^\/room\/([^/]+)\/?$/);
    if (!m) return 'lobby';
    try { return decodeURIComponent(m[1]); } catch (e) { return m[1]; }
  }

  const rv = {
    id: null,
    room: roomFromPath(),
    name: params.get('name') || '',
    state: 'idle',
    members: new Set(),
    viewers: new Map(),   // sender id -> RTCPeerConnection
    publisher: null,
    iceServers: [],
    chat: [],
    error: null,
    sharing: false,
    layout: null,
    restarts: 0,
    say: (text) => say(text),
    leave: () => leave(),
    iceRestart: () => iceRestart(rv.publisher, whipUrl),
  };
  window.rv = rv;

  let ws = null;
  let seq = 0;
  const pending = new Map();  // seq -> function(reply header)
  let localStream = null;
  let whipUrl = null;
  let iceReady = Promise.resolve();   // the ICE servers, fetched at each join
  const whepUrls = new Map();   // sender -> Location
  const starting = new Set();   // senders whose viewer waits for the ICE servers
  const live = new Map();       // sender -> the ids of its streams now
  const tiles = new Map();      // id -> tile

  /* ---- RV frames (rv-protocol(7) FRAMES): lengths, JSON header, body ---- */

  function frame(h, body) {
    const hb = enc.encode(JSON.stringify(h)), bb = body ? enc.encode(body) : new Uint8Array(0);
    const out = new Uint8Array(8 + hb.length + bb.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, hb.length);
    dv.setUint32(4, bb.length);
    out.set(hb, 8);
    out.set(bb, 8 + hb.length);
    return out;
  }

  function unframe(buf) {
    const dv = new DataView(buf);
    const hl = dv.getUint32(0), bl = dv.getUint32(4);
    const h = JSON.parse(dec.decode(new Uint8Array(buf, 8, hl)));
    return { h, body: dec.decode(new Uint8Array(buf, 8 + hl, bl)) };
  }

  // A request: ONREPLY gets its ok or error.
  function request(h, body, onreply) {
    h.seq = ++seq;
    if (onreply) pending.set(h.seq, onreply);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(frame(h, body));
  }

  /* ---- tiles: one per member and per sender ---- */

  function tileFor(id) {
    let t = tiles.get(id);
    if (!t) {
      t = makeTile(id, id, false);
      tiles.set(id, t);
      tileState(t, rv.members.has(id) ? 'no video' : 'waiting');
    }
    return t;
  }

  function dropTile(id) {
    const t = tiles.get(id);
    if (t) t.remove();
    tiles.delete(id);
  }

  function showLocal() {
    let tile = document.querySelector('.tile.local');
    if (!tile) tile = makeTile('self', (rv.name || 'me') + ' (you)', true);
    const s = new MediaStream();
    const vt = share.track || (localStream && localStream.getVideoTracks()[0]);
    if (vt) s.addTrack(vt);
    const v = tile.querySelector('video');
    v.srcObject = s;
    tile.classList.toggle('sharing', !!share.track);
    v.play().catch(() => {});
  }

  /* ---- WHIP and WHEP ---- */

  function authHeaders() {
    const h = { 'Content-Type': 'application/sdp' };
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  // The ICE servers the server hands out (its Link headers, RFC 9725 4.6:
  // <URI>; rel="ice-server"; username="..."; credential="..."), as
  // RTCPeerConnection takes them; none when it has none or cannot say.
  async function iceServers() {
    let link = '';
    try {
      const r = await fetch('/whip/' + encodeURIComponent(rv.room) + '?id=' + encodeURIComponent(rv.name), { method: 'OPTIONS' });
      link = r.headers.get('Link') || '';
    } catch (e) { return []; }
    const out = [];
    for (const part of link.split(/,\s*(?=<)/)) {
      const m = part.match(/^\s*<([^>]*)>(.*)$/);
      if (!m || !/rel="ice-server"/.test(m[2])) continue;
      const srv = { urls: m[1] };
      for (const [, k, v] of m[2].matchAll(/;\s*([a-z-]+)="([^"]*)"/g)) {
        if (k === 'username') srv.username = v;
        if (k === 'credential') srv.credential = v;
      }
      out.push(srv);
    }
    return out;
  }

  // A new RTCPeerConnection with the server's ICE servers (TURN only with
  // ?relay=1).
  function newPC() {
    const cfg = { iceServers: rv.iceServers };
    if (params.get('relay') === '1') cfg.iceTransportPolicy = 'relay';
    return new RTCPeerConnection(cfg);
  }

  // POST PC's offer to PATH; the session's Location once answered.
  async function exchange(path, pc) {
    await pc.setLocalDescription(await pc.createOffer());
    const r = await fetch(path, { method: 'POST', headers: authHeaders(), body: pc.localDescription.sdp });
    const text = await r.text();
    if (r.status !== 201) throw new Error(r.status + ' ' + text.trim());
    await pc.setRemoteDescription({ type: 'answer', sdp: text });
    return r.headers.get('Location');
  }

  // An ICE restart (RFC 9725 4.3): new ICE credentials both ways by a PATCH
  // of the session (If-Match: *), the same session and streams; for a
  // connection that failed (a new network). False when it could not be.
  async function iceRestart(pc, url) {
    if (!pc || !url) return false;
    try {
      await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
      const sdp = pc.localDescription.sdp;
      const frag = `a=ice-ufrag:${sdp.match(/a=ice-ufrag:(\S+)/)[1]}\r\na=ice-pwd:${sdp.match(/a=ice-pwd:(\S+)/)[1]}\r\n`;
      const r = await fetch(url, { method: 'PATCH', body: frag,
        headers: Object.assign(authHeaders(), { 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': '*' }) });
      const text = await r.text();
      if (r.status !== 200) throw new Error(r.status + ' ' + text.trim());
      const ufrag = text.match(/a=ice-ufrag:(\S+)/)[1], pwd = text.match(/a=ice-pwd:(\S+)/)[1];
      await pc.setRemoteDescription({ type: 'answer', sdp: pc.remoteDescription.sdp
        .replace(/a=ice-ufrag:\S+/g, 'a=ice-ufrag:' + ufrag).replace(/a=ice-pwd:\S+/g, 'a=ice-pwd:' + pwd) });
      rv.restarts++;
      return true;
    } catch (e) {
      rv.error = 'ICE restart: ' + e.message;
      return false;
    }
  }

  // DELETE a session; keepalive: it goes out even when the page unloads.
  function hangUp(url) {
    if (url) fetch(url, { method: 'DELETE', keepalive: true, headers: token ? { Authorization: 'Bearer ' + token } : {} }).catch(() => {});
  }

  async function publish() {
    await iceReady;
    const pc = newPC();
    rv.publisher = pc;
    // always one audio and one video sender, so that sharing the screen
    // is a replaceTrack (no new offer)
    for (const kind of ['audio', 'video']) {
      const t = kind === 'video' ? localStream.getVideoTracks()[0] : localStream.getAudioTracks()[0];
      pc.addTransceiver(t || kind, { direction: 'sendonly', streams: [localStream] });
    }
    pc.onconnectionstatechange = async () => {
      if (pc.connectionState !== 'failed' || rv.publisher !== pc) return;
      if (!(await iceRestart(pc, whipUrl))) chatLine('', 'Your camera no longer reaches the server.', 'sys');
    };
    const path = '/whip/' + encodeURIComponent(rv.room) + '?id=' + encodeURIComponent(rv.name);
    // 409: this name still publishes from a page that went away without
    // hanging up (a crash); the server ends that one within its consent
    // timeout, so try again for a while.
    for (let tries = 0; rv.publisher === pc; tries++) {
      try {
        whipUrl = await exchange(path, pc);
        return;
      } catch (e) {
        if (!/^409 /.test(e.message) || tries >= 8) {
          rv.error = 'publish: ' + e.message;
          chatLine('', 'Could not send your camera: ' + e.message, 'sys');
          return;
        }
        if (tries === 0) chatLine('', 'Your camera waits for your last session to end…', 'sys');
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
  }

  // A sender's streams: its viewer follows the newest, and goes when the
  // last one ends (a reloaded page's new stream may start before its old
  // one is over).
  function streamOn(from, id) {
    if (!live.has(from)) live.set(from, new Set());
    live.get(from).add(id);
    watch(from);
  }

  function streamOff(from, id) {
    const ids = live.get(from);
    if (ids) ids.delete(id);
    if (ids && ids.size) return;
    live.delete(from);
    unwatch(from);
  }

  async function watch(from) {
    if (rv.viewers.has(from) || starting.has(from) || from === rv.name) return;
    starting.add(from);
    await iceReady;
    if (!starting.delete(from)) return;	/* its stream ended meanwhile */
    const pc = newPC();
    rv.viewers.set(from, pc);
    const tile = tileFor(from);
    const stream = new MediaStream();
    const v = tile.querySelector('video');
    v.srcObject = stream;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      v.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (rv.viewers.get(from) !== pc) return;
      tileState(tile, pc.connectionState);
      if (pc.connectionState === 'failed') iceRestart(pc, whepUrls.get(from));
    };
    try {
      const loc = await exchange('/whep/' + encodeURIComponent(rv.room) + '?id=' + encodeURIComponent(rv.name) +
        '&from=' + encodeURIComponent(from), pc);
      if (rv.viewers.get(from) !== pc) { hangUp(loc); return; }
      whepUrls.set(from, loc);
    } catch (e) {
      if (rv.viewers.get(from) === pc) unwatch(from);
      chatLine('', 'Cannot show ' + from + ': ' + e.message, 'sys');
    }
  }

  function unwatch(from) {
    starting.delete(from);
    const pc = rv.viewers.get(from);
    if (!pc) return;
    rv.viewers.delete(from);
    pc.close();
    hangUp(whepUrls.get(from));
    whepUrls.delete(from);
    if (rv.members.has(from)) {
      const t = tiles.get(from);
      if (t) { t.querySelector('video').srcObject = null; tileState(t, 'no video'); }
    } else {
      dropTile(from);
    }
  }

  /* ---- the RV session ---- */

  function connect() {
    rv.state = 'connecting';
    setStatus('connecting…');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const sock = new WebSocket(proto + '//' + location.host + '/rv');
    sock.binaryType = 'arraybuffer';
    ws = sock;
    sock.onopen = () => {
      const hello = { type: 'hello', id: rv.name, role: 'recv', version: 1, client: 'rvserver-room/1' };
      if (token) hello.token = token;
      sock.send(frame(hello));
    };
    sock.onmessage = (ev) => {
      let f;
      try { f = unframe(ev.data); } catch (e) { return; }
      if (f.h && typeof f.h.type === 'string') onFrame(f.h, f.body);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      if (rv.state !== 'joined' && rv.state !== 'connecting') return;
      rv.state = 'disconnected';
      setStatus('disconnected from the server', 'err');
      notice('Lost the connection to the server.');
      closeMedia();
    };
  }

  function onFrame(h, body) {
    if (h.re && pending.has(h.re)) {
      const f = pending.get(h.re);
      pending.delete(h.re);
      return f(h);
    }
    switch (h.type) {
    case 'welcome': return onWelcome(h);
    case 'ping': return ws && ws.send(frame({ type: 'pong' }));
    case 'joined': return h.group === rv.room && memberIn(h.id, true);
    case 'left': return h.group === rv.room && memberOut(h.id);
    case 'stream': return h.group === rv.room && h.from && streamOn(h.from, h.stream);
    case 'stream-end': return h.from && streamOff(h.from, h.stream);
    case 'msg': return onChat(h, body);
    case 'bye': return onBye(h);
    case 'error': return onError(h);
    default: return undefined;
    }
  }

  function onWelcome(h) {
    rv.id = h.id;
    request({ type: 'join', group: rv.room }, null, (r) => {
      if (r.type !== 'ok') return refused(r);
      rv.state = 'joined';
      setStatus('in room ' + rv.room + ' as ' + rv.name, 'ok');
      notice('');
      showCall(true);
      iceReady = iceServers().then((l) => { rv.iceServers = l; });
      const others = (r.members || []).filter((m) => m !== rv.name);
      if (!others.length) chatLine('', 'You are the first one in ' + rv.room + '.', 'sys');
      for (const m of others) memberIn(m, false);
      request({ type: 'watch', media: false }, null, (w) => {
        if (w.type !== 'ok') chatLine('', 'server: ' + (w.message || w.code), 'sys');
      });
      publish();
    });
  }

  function memberIn(id, announce) {
    if (!id || id === rv.name) return;
    rv.members.add(id);
    const t = tileFor(id);
    if (!rv.viewers.has(id)) tileState(t, 'no video');
    if (announce) chatLine('', id + ' joined', 'sys');
  }

  function memberOut(id) {
    if (!rv.members.delete(id)) return;
    chatLine('', id + ' left', 'sys');
    if (!rv.viewers.has(id)) dropTile(id);
  }

  // The join was refused: a full room, or another reason.
  function refused(r) {
    rv.error = r.message || r.code;
    rv.state = r.code === 'limit' ? 'full' : 'error';
    setStatus(rv.state === 'full' ? 'room full' : 'cannot join', 'err');
    notice(rv.state === 'full'
      ? 'The room "' + rv.room + '" is full. Try again later or pick another room.'
      : 'Cannot join "' + rv.room + '": ' + rv.error + '.');
    stop();
  }

  function onBye(h) {
    if (h.code === 'bye') return;
    rv.error = h.message || h.code;
    const denied = h.code === 'denied';
    rv.state = denied ? 'denied' : 'disconnected';
    setStatus(denied ? 'not admitted' : 'disconnected: ' + h.code, 'err');
    notice(denied ? 'Not admitted to "' + rv.room + '": ' + rv.error + '.'
      : h.code === 'replaced' ? 'You joined as ' + rv.name + ' somewhere else.'
        : 'The server closed the connection: ' + rv.error + '.');
    stop();
  }

  function onError(h) {
    rv.error = h.message || h.code;
    chatLine('', 'server: ' + rv.error, 'sys');
  }

  /* ---- chat ---- */

  function onChat(h, body) {
    if (h.group !== rv.room || (h.kind && h.kind !== 'text')) return;
    rv.chat.push({ from: h.from, text: body, time: h.time || Date.now() });
    chatLine(h.from || '?', body, '');
  }

  function say(text) {
    if (!text || rv.state !== 'joined') return;
    request({ type: 'msg', group: rv.room }, text, null);
    chatLine(rv.name + ' (you)', text, 'mine');
  }

  /* ---- screen sharing: the published video track is swapped ---- */

  function videoSender() {
    const pc = rv.publisher;
    const t = pc && pc.getTransceivers().find((x) => x.receiver.track.kind === 'video');
    return t ? t.sender : null;
  }

  const share = window.rvui.sharer({
    camera: () => (localStream && localStream.getVideoTracks()[0]) || null,
    apply: async (track) => { const s = videoSender(); if (s) await s.replaceTrack(track); },
    changed: (on) => { rv.sharing = on; showLocal(); },
  });

  /* ---- join and leave ---- */

  async function join(name, room) {
    rv.name = name;
    rv.room = room;
    rv.error = null;
    notice('');
    window.rvui.showRoom('rvserver', name, room);
    $('join-btn').disabled = true;
    if (!localStream) localStream = await window.rvui.localMedia((e) => { rv.mediaError = e; });
    showLocal();
    connect();
    $('join-btn').disabled = false;
  }

  function closeMedia() {
    starting.clear();
    live.clear();
    for (const from of [...rv.viewers.keys()]) unwatch(from);
    if (rv.publisher) { rv.publisher.close(); rv.publisher = null; }
    hangUp(whipUrl);
    whipUrl = null;
    for (const id of [...tiles.keys()]) dropTile(id);
    rv.members.clear();
  }

  // Out of the room: media off, the RV session closed, the form back.
  function stop() {
    closeMedia();
    share.drop();
    rv.sharing = false;
    if (localStream) { for (const t of localStream.getTracks()) t.stop(); localStream = null; }
    const lt = document.querySelector('.tile.local');
    if (lt) lt.remove();
    const sock = ws;
    ws = null;
    if (sock) sock.close(1000);
    pending.clear();
    showCall(false);
  }

  function leave() {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(frame({ type: 'bye' }));
    rv.state = 'left';
    stop();
    rv.id = null;
    setStatus('left the room');
    notice('You left "' + rv.room + '".', 'info');
  }

  /* ---- wiring ---- */

  function init() {
    window.rvui.autoLayout((l) => { rv.layout = l; });
    window.rvui.joinForm({ brand: 'rvserver', name: rv.name, room: rv.room, idName: true, join });
    window.rvui.wireCall({
      stream: () => localStream, say: say, leave, share: share.toggle,
    });
    window.addEventListener('pagehide', () => {
      hangUp(whipUrl);
      for (const u of whepUrls.values()) hangUp(u);
    });
    if (!window.rvui.validId(rv.room, 'room name')) return;
    if (rv.name && params.get('autojoin') === '1' && window.rvui.validId(rv.name, 'name')) join(rv.name, rv.room);
  }

  init();
})();
