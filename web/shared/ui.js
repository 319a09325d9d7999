/* ui.js - what both room pages (rvsignal's mesh, rvserver's conference)
 * show the same way: the status line, notices, the chat log, and the video
 * tiles with their layout. Loaded before the page's own script; it defines
 * window.rvui and touches nothing until called. */
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);

  function setStatus(text, kind) {
    const s = $('status');
    s.textContent = text;
    s.className = kind || '';
  }

  function notice(text, kind) {
    const n = $('notice');
    if (!text) { n.hidden = true; n.textContent = ''; return; }
    n.textContent = text;
    n.className = 'notice' + (kind ? ' ' + kind : '');
    n.hidden = false;
  }

  function showCall(on) {
    $('call').hidden = !on;
    $('join').hidden = on;
  }

  function chatLine(who, text, cls) {
    const li = document.createElement('li');
    if (cls) li.className = cls;
    if (who) {
      const b = document.createElement('span');
      b.className = 'from';
      b.textContent = who + ':';
      li.appendChild(b);
    }
    li.appendChild(document.createTextNode(text));
    const log = $('chat-log');
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  // A tile from #tile-tpl, for ID, captioned LABEL; a LOCAL one is muted.
  function makeTile(id, label, local) {
    const frag = $('tile-tpl').content.cloneNode(true);
    const fig = frag.querySelector('figure');
    fig.dataset.peer = id;
    fig.dataset.initial = (label || '?').charAt(0).toUpperCase();
    if (local) fig.classList.add('local');
    fig.querySelector('.who').textContent = label;
    const v = fig.querySelector('video');
    if (local) v.muted = true;
    // A camera-shaped picture covers its tile; anything else (a screen,
    // a phone held upright) is shown whole.
    v.addEventListener('resize', () => {
      const a = v.videoHeight ? v.videoWidth / v.videoHeight : 0;
      fig.classList.toggle('whole', !(a >= 1 && a <= 1.5));
    });
    $('tiles').appendChild(fig);
    return fig;
  }

  // The caption's state of TILE; 'no video' also shows the initial.
  function tileState(tile, state) {
    const s = tile && tile.querySelector('.pc-state');
    if (!s) return;
    tile.classList.toggle('novideo', state === 'no video');
    s.textContent = state === 'connected' ? '' : '(' + state + ')';
    s.className = 'pc-state ' + state;
  }

  /* ---- tile layout ----
   * N tiles share the video area: every column count is tried, the tiles are
   * made as large as the area allows in a shape between 1:1 and 16:9 (a
   * 4:3 camera loses at most a quarter of its width or height to the
   * tile's edges; video is never stretched), and the largest wins. Below
   * TILE_MIN_W the tiles stop shrinking and the area scrolls. */
  const TILE_MIN_ASPECT = 1, TILE_MAX_ASPECT = 16 / 9, TILE_MIN_W = 160;

  function tileSize(n, W, H, gap) {
    let best = null;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const cw = (W - gap * (cols - 1)) / cols, ch = (H - gap * (rows - 1)) / rows;
      if (cw <= 0 || ch <= 0) continue;
      const a = Math.min(TILE_MAX_ASPECT, Math.max(TILE_MIN_ASPECT, cw / ch));
      const w = Math.min(cw, ch * a);
      if (!best || w * (w / a) > best.w * best.h) best = { cols, w, h: w / a };
    }
    if (!best || best.w < TILE_MIN_W) {
      const cols = Math.max(1, Math.floor((W + gap) / (TILE_MIN_W + gap)));
      const w = Math.max(TILE_MIN_W, (W - gap * (cols - 1)) / cols);
      best = { cols, w, h: w * 3 / 4 };
    }
    return best;
  }

  // Lay #tiles out again whenever it changes size or tiles come and go;
  // ONLAYOUT gets {n, cols, w, h} (the pages keep it for tests).
  function autoLayout(onlayout) {
    const box = $('tiles');
    const layout = () => {
      const n = box.children.length;
      const cs = getComputedStyle(box);
      const gap = parseFloat(cs.columnGap) || 0;
      const W = box.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      const H = box.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
      if (!n || W <= 0 || H <= 0) return;
      const t = tileSize(n, W, H, gap);
      const w = Math.floor(t.w) + 'px', h = Math.floor(t.h) + 'px';
      if (box.style.getPropertyValue('--tile-w') !== w) box.style.setProperty('--tile-w', w);
      if (box.style.getPropertyValue('--tile-h') !== h) box.style.setProperty('--tile-h', h);
      onlayout({ n, cols: t.cols, w: Math.floor(t.w), h: Math.floor(t.h) });
    };
    new ResizeObserver(layout).observe(box);
    new MutationObserver(layout).observe(box, { childList: true });
  }

  // Camera and microphone, or what of them the browser gives; ONERROR gets
  // the last refusal's name. An empty stream when there is nothing.
  async function localMedia(onerror) {
    const tries = [
      { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } },
      { audio: false, video: true },
      { audio: true, video: false },
    ];
    for (const c of tries) {
      try {
        return await navigator.mediaDevices.getUserMedia(c);
      } catch (e) {
        onerror(String(e && e.name || e));
      }
    }
    chatLine('', 'No camera or microphone: you can watch and chat.', 'sys');
    return new MediaStream();
  }

  // Screen sharing: toggle() starts it (the chat says why when it cannot)
  // or stops it; the screen's video track, or the camera's again
  // (CAMERA()), goes to APPLY(track) (async), then CHANGED(on) and the
  // button follow. .track is the screen's while sharing, else null.
  function sharer({ camera, apply, changed }) {
    const sh = { track: null };
    const set = async (t) => {
      sh.track = t;
      await apply(t || camera());
      shareButton(!!t);
      changed(!!t);
    };
    sh.stop = async () => {
      const t = sh.track;
      if (!t) return;
      t.onended = null;
      t.stop();
      await set(null);
    };
    sh.start = async () => {
      if (!navigator.mediaDevices.getDisplayMedia) {
        chatLine('', 'Screen sharing is not supported by this browser.', 'sys');
        return;
      }
      let t = null;
      try {
        t = (await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false })).getVideoTracks()[0] || null;
      } catch (e) {
        chatLine('', 'Screen sharing was not started: ' + (e && e.name || e), 'sys');
      }
      if (!t) return;
      t.onended = () => sh.stop();
      await set(t);
    };
    sh.toggle = () => (sh.track ? sh.stop() : sh.start());
    sh.drop = () => {	// leaving: the screen off, nothing applied
      if (sh.track) { sh.track.onended = null; sh.track.stop(); sh.track = null; }
      shareButton(false);
    };
    return sh;
  }

  function shareButton(on) {
    $('share-btn').textContent = on ? 'Stop sharing' : 'Share screen';
    $('share-btn').setAttribute('aria-pressed', on ? 'true' : 'false');
  }

  // The call's controls: the chat box calls SAY(text), Leave LEAVE(), Share
  // SHARE(); Mute and Camera off switch the tracks of STREAM() on and off.
  function wireCall({ stream, say, leave, share }) {
    const toggle = (kind, btn, onLabel, offLabel) => {
      const s = stream();
      const t = s && s.getTracks().find((x) => x.kind === kind);
      if (!t) return;
      t.enabled = !t.enabled;
      btn.textContent = t.enabled ? onLabel : offLabel;
      btn.setAttribute('aria-pressed', t.enabled ? 'false' : 'true');
    };
    $('chat-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const i = $('chat-input');
      say(i.value.trim());
      i.value = '';
    });
    $('leave-btn').addEventListener('click', () => leave());
    $('share-btn').addEventListener('click', () => share());
    $('mic-btn').addEventListener('click', (e) => toggle('audio', e.currentTarget, 'Mute', 'Unmute'));
    $('cam-btn').addEventListener('click', (e) => toggle('video', e.currentTarget, 'Camera off', 'Camera on'));
  }

  // The page is ROOM's, for NAME, on the BRAND server: its title and address
  // (the query keeps the name, drops autojoin; the fragment stays).
  function showRoom(brand, name, room) {
    $('room-title').textContent = room;
    document.title = room + ' — ' + brand;
    const want = '/room/' + encodeURIComponent(room);
    if (location.pathname === want) return;
    const q = new URLSearchParams(location.search);
    q.set('name', name);
    q.delete('autojoin');
    history.replaceState(null, '', want + '?' + q.toString() + location.hash);
  }

  const ID_RE = /^[A-Za-z0-9._@-]{1,64}$/;
  const ID_RULE = '1-64 letters, digits, ".", "_", "@" or "-"';

  // The join form of BRAND's page, with NAME and ROOM filled in: a submit
  // with a valid room name (and, with IDNAME, a name that is an rv id) goes
  // to JOIN(name, room); otherwise the notice says what is wrong.
  function joinForm({ brand, name, room, idName, join }) {
    $('brand').textContent = brand;
    $('room-title').textContent = room;
    document.title = room + ' — ' + brand;
    if (idName) {
      $('name').pattern = '[A-Za-z0-9._@\\-]+';
      $('name').title = ID_RULE + ' (your id in the group)';
    }
    $('name').value = name;
    $('room').value = room;
    $('join-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const n = $('name').value.trim(), r = $('room').value.trim();
      if (!n) return;
      if (idName && !ID_RE.test(n)) { notice('A name has ' + ID_RULE + '.'); return; }
      if (!ID_RE.test(r)) { notice('A room name has ' + ID_RULE + '.'); return; }
      join(n, r);
    });
  }

  // S is an rv id (or room name); otherwise the notice says so, as WHAT.
  function validId(s, what) {
    if (ID_RE.test(s)) return true;
    notice('"' + s + '" is not a valid ' + what + ' (' + ID_RULE + ').');
    return false;
  }

  window.rvui = {
    joinForm, validId, showRoom, $, setStatus, notice, showCall, chatLine, makeTile, tileState, autoLayout, localMedia, sharer, shareButton, wireCall,
  };
})();
