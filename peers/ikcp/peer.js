'use strict';
// The kcplab peer of the C reference KCP: ikcp.c, as the npm package node-kcp bundles and builds it.
//
// It speaks peer protocol v2 on stdin (requests) and stdout (replies), one JSON object a line, as
// peer/peer.go's header and SCRIPT-SPEC.md (issue 16) define it; it logs to stderr. It runs scripted
// roles only: every listen and dial carries the role's script, interpreted here on ikcp sessions:
//   - each trial id has its own UDP socket on 127.0.0.1:0 (or on the request's optional "bind"
//     address) and its own sessions; several run at once; it answers the optional clock request;
//   - a session's ikcp_update runs on a timer that ikcp_check sets; the socket's datagrams go to
//     ikcp_input, ikcp's output to the socket; every datagram sent or received is recorded;
//   - the roles' calls are recorded as events in the protocol's vocabulary (Dial, Accept, Read,
//     Write, Close, return), with the err_class of kcp-go's errors (timeout, closed, other).

const crypto = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

let kcp;
try {
  kcp = require('node-kcp/index.js'); // not require('node-kcp'): its "main" prints a path to stdout
} catch (e) {
  process.stderr.write(`ikcp peer: node-kcp is not built (${e.message.split('\n')[0]}); run peers/ikcp/build.sh\n`);
  process.exit(1);
}

const PROTO = 2;
const READ_BUF = 4096; // bytes one Read returns at most, the buffer size of the Go roles
const STALL_MIN_NS = 2000000n; // a probe tick this late is a stall (as harness/loadprobe.go)

// What this peer runs: node-kcp's version and the hash of the ikcp.c it bundles.
function implVersion() {
  const dir = path.dirname(require.resolve('node-kcp/package.json'));
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  const c = fs.readFileSync(path.join(dir, 'src', 'kcp', 'ikcp.c'));
  const hash = crypto.createHash('sha256').update(c).digest('hex').slice(0, 12);
  return `node-kcp ${version}, ikcp.c sha256:${hash}`;
}

// ---- clocks and output ----

// Wall-clock Unix nanoseconds (a BigInt: they exceed 2^53): the wall clock read once, at the moment
// its millisecond ticks over (so that two peers' times agree to microseconds, not to 1 ms), then the
// monotonic clock since.
const [wall0, hr0] = (() => {
  const ms = Date.now();
  let now;
  while ((now = Date.now()) === ms);
  return [BigInt(now) * 1000000n, process.hrtime.bigint()];
})();
const nowNs = () => wall0 + (process.hrtime.bigint() - hr0);
// KCP's clock: monotonic milliseconds (node-kcp keeps the low 32 bits).
const kcpNow = () => Math.floor(performance.now());

// send writes one protocol line; BigInts are written as exact JSON integers.
const BIG = '\u0001bigint:';
function send(msg) {
  const line = JSON.stringify(msg, (_, v) => (typeof v === 'bigint' ? BIG + v : v));
  process.stdout.write(line.replace(/"\\u0001bigint:(-?\d+)"/g, '$1') + '\n');
}

// Errors of the roles' calls, with their protocol class and kcp-go's messages.
class RoleError extends Error {
  constructor(cls, msg) { super(msg); this.cls = cls; }
}
const errTimeout = () => new RoleError('timeout', 'timeout');
const errClosed = () => new RoleError('closed', 'io: read/write on closed pipe');
const classOf = (e) => (e ? e.cls || 'other' : undefined);

// ---- the stall probe ----
// A 1 ms timer while any trial runs: a tick 2 ms or more late means the event loop, which runs every
// session's updates and reads, was held up (machine load, GC). Reported in "done" as "stalls".
const probe = { starts: [], timer: null, stalls: [] };
function probeStart(start) {
  probe.starts.push(start);
  if (probe.starts.length > 1) return;
  let due = nowNs() + 1000000n;
  probe.timer = setInterval(() => {
    const t = nowNs();
    if (t - due >= STALL_MIN_NS && probe.stalls.length < 4096) probe.stalls.push({ from_ns: due, to_ns: t });
    due = t + 1000000n;
  }, 1);
}
// probeStop ends a trial's use of the probe (begun at start) and returns the stalls since then; it
// keeps only the stalls that trials still running may need.
function probeStop(start) {
  const mine = probe.stalls.filter((s) => s.to_ns > start);
  probe.starts.splice(probe.starts.indexOf(start), 1);
  if (probe.starts.length === 0) clearInterval(probe.timer);
  const oldest = probe.starts.reduce((a, b) => (b < a ? b : a), nowNs());
  probe.stalls = probe.stalls.filter((s) => s.to_ns > oldest);
  return mine;
}

// ---- scripts ----

const OPTION_KEYS = ['nodelay', 'interval_ms', 'resend', 'nc', 'snd_wnd', 'rcv_wnd', 'mtu', 'stream', 'min_rto_ms'];
const ACTION_KEYS = {
  write: ['data', 'data_b64'], read: ['deadline_ms', 'until_bytes', 'expect', 'may_fail'],
  echo: ['deadline_ms'], sleep: ['ms'], flush: [], close: [],
  pace: ['count', 'every_ms', 'size', 'deadline_ms'],
};

// checkScript validates a script before its role starts, so that a script this peer cannot run is
// refused by the listen or dial that brings it. It returns the script with each write's bytes.
function checkScript(s) {
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const isCount = (v) => Number.isInteger(v) && v >= 0;
  if (!isObj(s)) throw new Error('script: not an object');
  const o = s.options === undefined ? {} : s.options;
  if (!isObj(o)) throw new Error('script: options: not an object');
  for (const k of Object.keys(o)) {
    if (!OPTION_KEYS.includes(k)) throw new Error(`script: unknown option ${JSON.stringify(k)}`);
    if (k === 'stream' ? typeof o[k] !== 'boolean' : !Number.isInteger(o[k])) throw new Error(`script: option ${k}: bad value`);
  }
  const group = (keys) => {
    const n = keys.filter((k) => k in o).length;
    if (n !== 0 && n !== keys.length) throw new Error(`script: options ${keys.join(', ')} go together`);
  };
  group(['nodelay', 'interval_ms', 'resend', 'nc']);
  group(['snd_wnd', 'rcv_wnd']);
  if ('mtu' in o && o.mtu < 50) throw new Error(`script: mtu ${o.mtu}: ikcp_setmtu refuses below 50`);
  // node-kcp has no setter for rx_minrto: only ikcp_nodelay sets it, to 30 with nodelay, 100 without.
  const minrto = o.nodelay ? 30 : 100;
  if ('min_rto_ms' in o && o.min_rto_ms !== minrto) {
    throw new Error(`script: min_rto_ms ${o.min_rto_ms}: node-kcp 1.0.13 cannot set rx_minrto (it is ${minrto} with these options)`);
  }
  const actions = s.actions === undefined ? [] : s.actions;
  if (!Array.isArray(actions)) throw new Error('script: actions: not a list');
  const checked = actions.map((a, i) => {
    const where = `script: action ${i + 1}`;
    if (!isObj(a) || !(a.do in ACTION_KEYS)) throw new Error(`${where}: unknown action ${JSON.stringify(isObj(a) ? a.do : a)}`);
    for (const k of Object.keys(a)) {
      if (k !== 'do' && !ACTION_KEYS[a.do].includes(k)) throw new Error(`${where} (${a.do}): unknown field ${JSON.stringify(k)}`);
    }
    for (const k of ['deadline_ms', 'until_bytes', 'ms', 'count', 'every_ms', 'size']) {
      if (k in a && !isCount(a[k])) throw new Error(`${where} (${a.do}): ${k}: not a count`);
    }
    if ('may_fail' in a && typeof a.may_fail !== 'boolean') throw new Error(`${where} (read): may_fail: not a bool`);
    if ('expect' in a && typeof a.expect !== 'string') throw new Error(`${where} (read): expect: not a string`);
    if (a.do === 'pace') {
      for (const [k, least] of [['count', 1], ['every_ms', 1], ['size', 4], ['deadline_ms', 1]]) {
        if (!(a[k] >= least)) throw new Error(`${where} (pace): ${k}: want at least ${least}`);
      }
      if (a.size > READ_BUF) throw new Error(`${where} (pace): size ${a.size}: want at most ${READ_BUF}`);
    }
    if (a.do !== 'write') return a;
    if (('data' in a) === ('data_b64' in a)) throw new Error(`${where} (write): needs data or data_b64`);
    if (typeof (a.data ?? a.data_b64) !== 'string') throw new Error(`${where} (write): data: not a string`);
    return { ...a, bytes: 'data' in a ? Buffer.from(a.data, 'utf8') : Buffer.from(a.data_b64, 'base64') };
  });
  return { options: o, actions: checked };
}

// ---- sessions ----

// Session is one ikcp control block on the trial's socket, talking to one remote address.
class Session {
  constructor(trial, conv, remote, number) {
    this.trial = trial;
    this.conv = conv;
    this.remote = remote; // {address, port}
    this.number = number; // server: 1, 2... in accept order; client: 0
    this.live = true; // until released: node-kcp crashes on a released block, so every call checks it
    this.closeCalled = false; // the role's conn.Close was called (by the role or the coordinator)
    this.returned = false;
    this.reader = null; // the pending Read, if any
    this.pending = null; // what a Read left of a message longer than READ_BUF
    this.source = null; // a dialed session: the address it takes datagrams from
    this.timer = null;
    this.k = new kcp.KCP(conv);
    const o = trial.script.options;
    if ('nodelay' in o) this.k.nodelay(o.nodelay, o.interval_ms, o.resend, o.nc);
    if ('snd_wnd' in o) this.k.wndsize(o.snd_wnd, o.rcv_wnd);
    if ('mtu' in o) this.k.setmtu(o.mtu);
    if ('stream' in o) this.k.stream(o.stream ? 1 : 0);
    this.k.output((buf) => trial.sendTo(buf, remote));
  }

  // tick is ikcp_update, then the next one when ikcp_check says. Its first call is the session's
  // creation: ikcp_flush sends nothing before ikcp_update has run once (ikcp.c:945).
  tick() {
    this.timer = null;
    if (!this.live) return;
    this.k.update(kcpNow());
    this.poll();
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), this.k.check(kcpNow()));
  }

  // input feeds a datagram to ikcp_input. Its ACKs leave with the next ikcp_update (or flush).
  input(buf) {
    if (!this.live) return;
    this.k.input(buf);
    this.poll();
  }

  // take is what one Read returns now: ikcp_recv's next message, at most READ_BUF bytes of it.
  take() {
    let d = this.pending || this.k.recv();
    this.pending = null;
    if (d && d.length > READ_BUF) {
      this.pending = d.subarray(READ_BUF);
      d = d.subarray(0, READ_BUF);
    }
    return d;
  }

  poll() {
    if (this.reader && this.live) {
      const d = this.take();
      if (d) this.reader(d, null);
    }
  }

  // read is one Read with a deadline of deadlineMs (0: none): it resolves to {data} or {err}.
  read(deadlineMs) {
    const start = nowNs();
    return new Promise((resolve) => {
      let timer = null;
      const done = (data, err) => {
        clearTimeout(timer);
        this.reader = null;
        this.trial.event(this, 'Read', start, data, err);
        resolve({ data, err });
      };
      if (!this.live) return done(null, errClosed());
      const d = this.take();
      if (d) return done(d, null);
      if (deadlineMs > 0) timer = setTimeout(() => done(null, errTimeout()), deadlineMs);
      this.reader = done;
    });
  }

  // write is one Write: ikcp_send, which only queues (the bytes leave with the next flush).
  write(bytes) {
    const start = nowNs();
    let err = null;
    if (!this.live) err = errClosed();
    else if (bytes.length > 0) {
      const r = this.k.send(bytes);
      if (r < 0) err = new RoleError('other', `ikcp_send returned ${r}`);
    }
    this.trial.event(this, 'Write', start, err ? null : bytes, err);
    return err;
  }

  flush() {
    if (!this.live) return;
    this.k.flush();
    this.schedule();
  }

  // close is the role's conn.Close: what ikcp users do, ikcp_flush and then ikcp_release. As kcp-go's
  // Close, a second one fails with "closed".
  close() {
    const start = nowNs();
    const wasLive = this.live;
    this.closeCalled = true;
    this.release();
    this.trial.event(this, 'Close', start, null, wasLive ? null : errClosed());
  }

  // release flushes and frees the block; a pending Read fails with "closed", later datagrams from the
  // remote no longer reach this session.
  release() {
    if (!this.live) return;
    this.k.flush();
    this.live = false;
    clearTimeout(this.timer);
    this.k.release();
    this.trial.forget(this);
    if (this.reader) this.reader(null, errClosed());
  }
}

// runRole runs a script's actions on a session, then closes it if no close action did (as the Go
// roles' `defer conn.Close()`), records "return" and resolves to the role's error (or null).
async function runRole(sess, script) {
  let err = null;
  let closed = false;
  try {
    for (const a of script.actions) {
      if (a.do === 'write') {
        const e = sess.write(a.bytes);
        if (e) throw e;
      } else if (a.do === 'read') {
        await readAction(sess, a);
      } else if (a.do === 'echo') {
        for (;;) {
          const r = await sess.read(a.deadline_ms || 0);
          if (r.err) throw r.err;
          const e = sess.write(r.data);
          if (e) throw e;
        }
      } else if (a.do === 'pace') {
        await paceAction(sess, a);
      } else if (a.do === 'sleep') {
        await sess.trial.wait(a.ms);
      } else if (a.do === 'flush') {
        sess.flush();
      } else if (a.do === 'close') {
        sess.close();
        closed = true;
      }
    }
  } catch (e) {
    err = e instanceof RoleError ? e : new RoleError('other', String(e && e.message ? e.message : e));
  }
  if (!closed) sess.close();
  sess.returned = true;
  sess.trial.event(sess, 'return', null, null, err);
  return err;
}

// paceAction writes count messages of size bytes, one every every_ms ms (the first at once), each
// starting with its index (4 bytes, big-endian), while it reads them back: test.cpp's timed echo. It
// ends once count messages were read; a failed Read or Write ends the role.
async function paceAction(sess, a) {
  let sent = 0;
  let werr = null;
  let timer = null;
  const step = () => {
    if (werr || sent >= a.count) {
      clearInterval(timer);
      return;
    }
    const msg = Buffer.alloc(a.size);
    msg.writeUInt32BE(sent, 0);
    sent++;
    werr = sess.write(msg);
  };
  timer = setInterval(step, a.every_ms);
  step();
  try {
    for (let got = 0; got < a.count; got++) {
      if (werr) throw werr;
      const r = await sess.read(a.deadline_ms);
      if (r.err) throw r.err;
    }
  } finally {
    clearInterval(timer);
  }
  if (werr) throw werr;
}

// readAction reads until until_bytes were read (0: until a Read fails), then checks "expect" against
// every byte the action read. A failed Read ends the role unless may_fail.
async function readAction(sess, a) {
  const got = [];
  let total = 0;
  for (;;) {
    const r = await sess.read(a.deadline_ms || 0);
    if (r.err) {
      if (a.may_fail) break;
      throw r.err;
    }
    got.push(r.data);
    total += r.data.length;
    if (a.until_bytes > 0 && total >= a.until_bytes) break;
  }
  if ('expect' in a) {
    const b = Buffer.concat(got);
    if (!b.equals(Buffer.from(a.expect, 'utf8'))) {
      throw new RoleError('other', `expect ${JSON.stringify(a.expect)}, got ${JSON.stringify(b.toString('utf8'))}`);
    }
  }
}

// ---- trials ----

// Trial is one role of one trial: its socket, its sessions, and what it recorded.
class Trial {
  constructor(id, side, script) {
    this.id = id;
    this.side = side; // "server" (listen) or "client" (dial)
    this.script = script;
    this.sock = null;
    this.sockOpen = false;
    this.local = '';
    this.listening = side === 'server';
    this.sessions = new Map(); // live server sessions by remote "ip:port"
    this.accepted = []; // server sessions in accept order
    this.roles = []; // the roles' promises
    this.client = null;
    this.datagrams = [];
    this.events = [];
    this.lastWire = 0; // performance.now() of the last datagram
    this.waits = new Set(); // pending wait()s, ended at teardown
    this.ending = false; // teardown ends the waits: a wait from then on ends at once
    this.start = nowNs();
    this.torn = null; // teardown's promise, once it began
    probeStart(this.start);
  }

  // bind opens the trial's socket on addr (the request's optional "bind", an IPv4 address;
  // 127.0.0.1 when absent) with a port the kernel chooses.
  bind(addr = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(String(addr))) {
        return reject(new Error(`bind address ${JSON.stringify(addr)}: not an IPv4 address`));
      }
      const sock = dgram.createSocket('udp4');
      sock.once('error', reject);
      sock.bind(0, addr, () => {
        sock.off('error', reject);
        sock.on('error', (e) => process.stderr.write(`ikcp peer: trial ${this.id}: socket: ${e.message}\n`));
        sock.on('message', (buf, rinfo) => this.receive(buf, rinfo));
        this.sock = sock;
        this.sockOpen = true;
        this.local = `${addr}:${sock.address().port}`;
        resolve();
      });
    });
  }

  record(src, dst, buf) {
    this.lastWire = performance.now();
    this.datagrams.push({ t_ns: nowNs(), src, dst, b64: buf.toString('base64') });
  }

  sendTo(buf, remote) {
    if (!this.sockOpen) return;
    this.record(this.local, `${remote.address}:${remote.port}`, buf);
    this.sock.send(buf, remote.port, remote.address);
  }

  receive(buf, rinfo) {
    const from = `${rinfo.address}:${rinfo.port}`;
    this.record(from, this.local, buf);
    if (this.side === 'client') {
      // A dialed session keeps to the source of the first datagram it got, as kcp-go's readLoop does
      // (v5.7.6 readloop.go:64-75); others are recorded and dropped.
      if (!this.client) return;
      this.client.source ??= from;
      if (from === this.client.source) this.client.input(buf);
      return;
    }
    this.accept(buf, rinfo, from);
  }

  // accept is kcp-go's Listener.packetInput (kcp-go v5.7.6 sess.go:1242-1365) without FEC and crypto:
  // a datagram of 24 bytes or more (a KCP header's length, the only test kcp-go makes) goes to the
  // live session of its source address if the conv matches; a mismatched conv with sn 0 replaces that
  // session; from an address with no live session it creates one with the datagram's conv. kcp-go
  // forgets a session when it closes (Listener.closeSession), so after a session closed, a later
  // datagram from the same address (a retransmission, an ACK) creates a new session, here as there.
  accept(buf, rinfo, from) {
    if (buf.length < 24) return;
    const conv = buf.readUInt32LE(0);
    const sn = buf.readUInt32LE(12);
    const old = this.sessions.get(from);
    if (old && old.conv === conv) return old.input(buf);
    if (old) {
      if (sn !== 0) return;
      old.release(); // the listener's Close: no Close event, the role's next call fails "closed"
    }
    if (!this.listening) return;
    const s = new Session(this, conv, { address: rinfo.address, port: rinfo.port }, this.accepted.length + 1);
    this.sessions.set(from, s);
    this.accepted.push(s);
    s.input(buf);
    s.tick(); // the first update follows the input, as in kcp-go's usual order: the ACK leaves now
    this.event(s, 'Accept', null, null, null);
    this.roles.push(runRole(s, this.script));
  }

  // dial creates the client session with a random conv, its first update at once, and starts its role.
  dial(server, onReturn) {
    const s = new Session(this, crypto.randomInt(1, 2 ** 32), server, 0);
    s.tick();
    const start = nowNs();
    this.client = s;
    this.event(s, 'Dial', null, null, null, start);
    const role = runRole(s, this.script);
    this.roles.push(role);
    role.then(onReturn);
    return start;
  }

  forget(s) {
    for (const [k, v] of this.sessions) if (v === s) this.sessions.delete(k);
  }

  // event records one call of a role; start is when it began (null: a point in time).
  event(s, kind, start, data, err, at) {
    const t = at || nowNs();
    const e = { t_ns: t, side: this.side, kind };
    if (s.number) e.session = s.number;
    if (data && data.length) Object.assign(e, { n: data.length, data_b64: data.toString('base64') });
    if (start !== null) e.dur_ns = t - start;
    if (err) Object.assign(e, { err_class: classOf(err), err: err.message });
    this.events.push(e);
  }

  // wait resolves after ms, or at once when the trial is torn down.
  wait(ms) {
    return new Promise((resolve) => {
      if (this.ending) return resolve();
      const w = { resolve, timer: setTimeout(() => { this.waits.delete(w); resolve(); }, ms) };
      this.waits.add(w);
    });
  }

  // settle: the first accepted session's role has returned (if any was accepted), then the socket has
  // seen no datagram for quietMs. It returns an error message when deadlineMs passed first.
  async settle(quietMs, deadlineMs) {
    const deadline = performance.now() + deadlineMs;
    if (this.accepted.length > 0 && !this.accepted[0].returned) {
      await Promise.race([this.roles[0], this.wait(deadlineMs)]);
      if (!this.accepted[0].returned) return 'server role still running at the deadline';
    }
    const from = performance.now();
    for (;;) {
      const now = performance.now();
      const left = Math.max(from, this.lastWire) + quietMs - now;
      if (left <= 0) return null;
      if (now >= deadline || this.ending) return "the wire never went quiet before the trial's deadline";
      await this.wait(Math.min(left, deadline - now));
    }
  }

  // closeClient is the "close" request: the client session, if its role left it open.
  closeClient() {
    if (!this.client || this.client.closeCalled) return false;
    this.client.close();
    return true;
  }

  // teardown (once): close the client session if left open and wait (5 s at most) for its role; stop
  // accepting; release every accepted session (the roles still running are torn down); close the socket.
  teardown() {
    this.torn ??= (async () => {
      this.closeClient();
      if (this.client) await Promise.race([this.roles[0], this.wait(5000)]);
      this.listening = false;
      const tornDown = this.accepted.map((s) => !s.returned);
      for (const s of this.accepted) s.release();
      this.ending = true;
      for (const w of this.waits) {
        clearTimeout(w.timer);
        w.resolve();
      }
      this.waits.clear();
      await Promise.all(this.roles);
      this.sockOpen = false;
      if (this.sock) this.sock.close();
      const stalls = probeStop(this.start);
      const m = { op: 'done', trial: this.id, accepts: this.accepted.length, datagrams: this.datagrams, events: this.events };
      if (tornDown.length) m.torn_down = tornDown;
      if (stalls.length) m.stalls = stalls;
      return m;
    })();
    return this.torn;
  }
}

// ---- the protocol ----

const trials = new Map();

// parseAddr reads "ip:port".
function parseAddr(s) {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(String(s));
  if (!m || +m[2] < 1 || +m[2] > 65535) throw new Error(`server address ${JSON.stringify(s)}: not ip:port`);
  return { address: m[1], port: +m[2] };
}

// handle answers one request (several run at once: settle waits, the others answer at once).
async function handle(m) {
  const fail = (e) => send({ op: 'error', trial: m.trial, for: m.op, error: e.message || String(e) });
  try {
    if (m.op === 'listen' || m.op === 'dial') {
      if (m.script === undefined) return fail(new Error('this peer runs scripted roles only'));
      const script = checkScript(m.script);
      const server = m.op === 'dial' ? parseAddr(m.server) : null;
      if (trials.has(m.trial)) return fail(new Error(`trial ${m.trial} already exists`));
      const t = new Trial(m.trial, m.op === 'listen' ? 'server' : 'client', script);
      trials.set(m.trial, t);
      try {
        await t.bind(m.bind);
      } catch (e) {
        trials.delete(m.trial); // nothing of a role that did not start is kept
        await t.teardown();
        throw e;
      }
      if (m.op === 'listen') return send({ op: 'ready', trial: m.trial, addr: t.local });
      const start = t.dial(server, (err) => {
        send({ op: 'returned', trial: m.trial, side: 'client', err_class: classOf(err), error: err ? err.message : undefined });
      });
      return send({ op: 'ready', trial: m.trial, addr: t.local, start_ns: start });
    }
    // The optional clock request: this peer's clock, as its records read it.
    if (m.op === 'clock') return send({ op: 'time', trial: m.trial, now_ns: nowNs() });
    if (m.op === 'settle' || m.op === 'close' || m.op === 'teardown') {
      const t = trials.get(m.trial);
      if (!t) return fail(new Error(`no trial ${m.trial}`));
      if (m.op === 'settle') {
        const err = await t.settle(Number(m.quiet_ms) || 0, Number(m.deadline_ms) || 0);
        return send({ op: 'settled', trial: m.trial, error: err || undefined });
      }
      if (m.op === 'close') return send({ op: 'closed', trial: m.trial, closed: t.closeClient() });
      trials.delete(m.trial);
      return send(await t.teardown());
    }
    return fail(new Error(`unknown op ${JSON.stringify(m.op)}`));
  } catch (e) {
    return fail(e);
  }
}

function main() {
  process.stdout.on('error', (e) => process.stderr.write(`ikcp peer: stdout: ${e.message}\n`));
  send({ op: 'hello', impl: 'ikcp', impl_version: implVersion(), proto: PROTO });
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    let m;
    try {
      m = JSON.parse(line);
      if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('not an object');
    } catch (e) {
      return send({ op: 'error', error: `bad request ${JSON.stringify(line)}: ${e.message}` });
    }
    handle(m);
  });
  // The coordinator ends the peer by closing its input: every trial left is torn down, which closes
  // the sockets and stops the timers, so the process exits by itself.
  rl.on('close', async () => {
    await Promise.all([...trials.values()].map((t) => t.teardown()));
    trials.clear();
    setTimeout(() => {
      process.stderr.write('ikcp peer: handles still open after teardown; exiting\n');
      process.exit(0);
    }, 5000).unref();
  });
}

main();
