// The wsk demo page: which replica and transport this tab is on, the
// cluster's replicas, and a room chat. Plain browser JavaScript, no build.
// Everything that came over the wire is written with textContent, never
// parsed as HTML.
(() => {
  const ROOM_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
  const CLUSTER_REFRESH_MS = 3000;
  const MAX_MESSAGES = 200;

  const params = new URLSearchParams(window.location.search);
  const byId = (id) => document.getElementById(id);
  const ui = {
    status: byId('status'),
    replica: byId('replica'),
    transport: byId('transport'),
    socketId: byId('socket-id'),
    reconnections: byId('reconnections'),
    transportsNote: byId('transports-note'),
    replicas: byId('replicas'),
    clusterNote: byId('cluster-note'),
    joinForm: byId('join-form'),
    room: byId('room'),
    nick: byId('nick'),
    roomStatus: byId('room-status'),
    messages: byId('messages'),
    sendForm: byId('send-form'),
    message: byId('message'),
    sendError: byId('send-error'),
  };

  // ?transports=polling (or websocket) pins the transport; default is
  // Socket.IO's own: long-polling first, then the upgrade to WebSocket.
  const TRANSPORT_CHOICES = { polling: ['polling'], websocket: ['websocket'] };
  const transports = TRANSPORT_CHOICES[params.get('transports')] || ['polling', 'websocket'];
  const pinned = transports.length === 1;
  const link = document.createElement('a');
  link.href = pinned ? '?' : '?transports=polling';
  link.textContent = pinned ? 'the default transports' : 'polling only';
  ui.transportsNote.append(
    pinned
      ? `Transport pinned to ${transports[0]}. Back to `
      : 'Default transports: long-polling, then the upgrade to WebSocket. Try ',
    link,
    '.',
  );

  if (typeof window.io !== 'function') {
    ui.status.textContent = 'the Socket.IO client did not load (/socket.io/socket.io.min.js)';
    return;
  }

  const initialRoom = params.get('room');
  ui.room.value = initialRoom && ROOM_PATTERN.test(initialRoom) ? initialRoom : 'lobby';
  ui.nick.value = `guest-${Math.floor(Math.random() * 9000 + 1000)}`;

  // Same origin (the proxy that served this page): no CORS needed, and the
  // proxy's affinity cookie from this page load travels with every request.
  const socket = window.io({ transports });
  let currentReplica = '';
  let joinedRoom = '';
  let reconnections = 0;

  const setText = (element, text) => {
    element.textContent = text;
  };
  const setTransport = (name) => setText(ui.transport, name);

  socket.on('connect', () => {
    setText(ui.status, 'connected');
    const engine = socket.io.engine;
    setTransport(engine.transport.name);
    // A new engine on every reconnection: listen on the current one.
    engine.once('upgrade', (transport) => setTransport(transport.name));
  });

  socket.on('welcome', (welcome) => {
    currentReplica = String(welcome.replica);
    setText(ui.replica, currentReplica);
    setText(ui.socketId, String(welcome.socket));
    setText(ui.status, welcome.recovered ? 'connected (session recovered)' : 'connected');
    // A new session (another replica, maybe) holds no rooms: join again.
    join(joinedRoom || ui.room.value);
    refreshCluster();
  });

  socket.on('disconnect', (reason) => {
    setText(ui.status, `disconnected (${reason}), reconnecting…`);
  });
  socket.on('connect_error', (error) => {
    setText(ui.status, `cannot connect: ${error.message}`);
  });
  socket.io.on('reconnect', () => {
    reconnections += 1;
    setText(ui.reconnections, String(reconnections));
  });

  function refreshCluster() {
    if (!socket.connected) return;
    socket.timeout(CLUSTER_REFRESH_MS * 2).emit('cluster:replicas', (error, reply) => {
      if (error || !reply || !reply.ok) {
        setText(ui.clusterNote, 'the replicas did not answer in time');
        return;
      }
      const rows = reply.replicas.map((info) => {
        const row = document.createElement('tr');
        const name = document.createElement('td');
        name.textContent = String(info.replica);
        if (info.replica === currentReplica) {
          row.className = 'mine';
          const you = document.createElement('strong');
          you.textContent = ' (you)';
          name.append(you);
        }
        const clients = document.createElement('td');
        clients.className = 'num';
        clients.textContent = String(info.clients);
        row.append(name, clients);
        return row;
      });
      ui.replicas.replaceChildren(...rows);
      const total = reply.replicas.reduce((sum, info) => sum + info.clients, 0);
      setText(
        ui.clusterNote,
        `${reply.replicas.length} replica(s), ${total} client(s)${reply.complete ? '' : ' (some replicas did not answer)'}, updated ${new Date().toLocaleTimeString()}`,
      );
    });
  }
  setInterval(refreshCluster, CLUSTER_REFRESH_MS);

  function join(room) {
    if (!ROOM_PATTERN.test(room)) {
      setText(ui.roomStatus, 'Room names are 1 to 64 letters, digits, . _ : -');
      return;
    }
    const previous = joinedRoom;
    socket.emit('join', room, (reply) => {
      if (!reply?.ok) {
        setText(ui.roomStatus, `could not join ${room}: ${reply ? reply.error.message : 'no answer'}`);
        return;
      }
      if (previous && previous !== room) socket.emit('leave', previous, () => undefined);
      if (previous !== room) ui.messages.replaceChildren();
      joinedRoom = room;
      setText(ui.roomStatus, `In room “${room}” on ${currentReplica}.`);
    });
  }

  ui.joinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    join(ui.room.value.trim());
  });

  ui.sendForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = ui.message.value.trim();
    if (!text || !joinedRoom) return;
    const payload = { text, nick: ui.nick.value.trim().slice(0, 32) || 'anonymous' };
    socket.timeout(5000).emit('room:emit', joinedRoom, payload, (error, reply) => {
      if (error) setText(ui.sendError, 'not sent: no answer from the replica');
      else if (!reply.ok) setText(ui.sendError, `not sent: ${reply.error.message}`);
      else setText(ui.sendError, '');
    });
    ui.message.value = '';
  });

  socket.on('room:message', (message) => {
    if (message.room !== joinedRoom) return;
    const payload = message.payload && typeof message.payload === 'object' ? message.payload : {};
    const text = typeof payload.text === 'string' ? payload.text : JSON.stringify(message.payload);
    const nick = typeof payload.nick === 'string' ? payload.nick : 'anonymous';
    const item = document.createElement('li');
    if (message.from.socket === socket.id) item.className = 'own';
    const meta = document.createElement('span');
    meta.className = 'meta';
    const time = document.createElement('time');
    const sentAt = new Date(message.sentAt);
    time.dateTime = sentAt.toISOString();
    time.textContent = sentAt.toLocaleTimeString();
    const who = document.createElement('span');
    who.className = 'nick';
    who.textContent = nick;
    const via = document.createElement('span');
    via.className = 'via';
    via.textContent = `via ${message.from.replica}`;
    meta.append(time, ' ', who, ' ', via);
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    item.append(meta, body);
    ui.messages.append(item);
    while (ui.messages.children.length > MAX_MESSAGES) ui.messages.firstElementChild.remove();
    item.scrollIntoView({ block: 'nearest' });
  });

  // For the browser tests and the curious (devtools console).
  window.wskDemo = { socket };
})();
