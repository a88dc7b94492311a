'use strict';
// Artillery processor for load/artillery.yml (CommonJS: Artillery require()s it).
// Reads the virtual user's Socket.IO socket from the socketio-v3 engine's
// context (context.sockets[''], the default namespace).

/** @param {any} context */
function socketOf(context) {
  const socket = context.sockets?.[''];
  if (!socket) throw new Error('no Socket.IO connection yet: watchSession must follow the first emit');
  return socket;
}

/** Remember where the user landed, and count what reaches it from now on. */
function watchSession(context, events, next) {
  const socket = socketOf(context);
  context.vars.wskEngineId = socket.io.engine.id;
  context.vars.wskWelcomes = 0;
  context.vars.wskReceived = 0;
  context.vars.wskDisconnects = 0;
  // A second `welcome` would be a new session (a reconnection elsewhere).
  socket.on('welcome', () => context.vars.wskWelcomes++);
  socket.on('broadcast', () => context.vars.wskReceived++);
  socket.on('room:message', () => context.vars.wskReceived++);
  socket.on('disconnect', (reason) => {
    context.vars.wskDisconnects++;
    events.emit('counter', `wsk.disconnect.${reason}`, 1);
    // The engine's acks have no timeout: an ack lost with the connection
    // would hang this user, and so the whole run, forever. Answer the
    // pending ones with a refusal instead; the flow's `match: ok` fails and
    // Artillery counts the user failed.
    const pending = socket.acks ?? {};
    for (const id of Object.keys(pending)) {
      const ack = pending[id];
      delete pending[id];
      if (typeof ack === 'function') ack({ ok: false, error: { code: 'DISCONNECTED', message: String(reason) } });
    }
  });
  next();
}

/** Ask the replica again; count the user sticky only if nothing about its session changed. */
function checkSticky(context, events, next) {
  const socket = socketOf(context);
  const timer = setTimeout(() => {
    events.emit('counter', 'wsk.vu.whoami_timeout', 1);
    next(new Error('whoami: no ack within 10 s'));
  }, 10_000);
  socket.emit('whoami', (reply) => {
    clearTimeout(timer);
    const v = context.vars;
    const same =
      reply?.ok === true &&
      reply.replica === v.replica &&
      socket.io.engine.id === v.wskEngineId &&
      v.wskWelcomes === 0 &&
      v.wskDisconnects === 0;
    events.emit('counter', same ? 'wsk.vu.sticky' : 'wsk.vu.moved', 1);
    events.emit('counter', 'wsk.messages.received', v.wskReceived);
    events.emit('counter', `wsk.replica.${reply?.replica}`, 1);
    events.emit('counter', `wsk.transport.${socket.io.engine.transport.name}`, 1);
    next();
  });
}

module.exports = { watchSession, checkSticky };
