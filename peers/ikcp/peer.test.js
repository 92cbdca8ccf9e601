'use strict';
// Tests of the ikcp peer through its protocol: run with `node --test` in peers/ikcp (after build.sh).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const test = require('node:test');

const PEER = path.join(__dirname, 'peer.js');

// The tests need node-kcp built; without it they skip with the reason.
let skip = false;
try {
  require('node-kcp/index.js');
} catch (e) {
  skip = `node-kcp is not built (run peers/ikcp/build.sh): ${e.message.split('\n')[0]}`;
}

// p003's role scripts (SCRIPT-SPEC.md).
const RESPONSE = 'Mon Jan  1 00:00:00 UTC 2026 a fixed text';
const p003Server = { actions: [{ do: 'read', until_bytes: 9, expect: 'handshake' }, { do: 'write', data: RESPONSE }, { do: 'close' }] };
const p003Client = { actions: [{ do: 'write', data: 'handshake' }, { do: 'read', deadline_ms: 1000 }] };

// startPeer runs peer.js and reads its lines; the test's end kills it if it still runs.
async function startPeer(t) {
  const proc = spawn(process.execPath, [PEER], { stdio: ['pipe', 'pipe', 'pipe'] });
  const peer = { proc, lines: [], waiters: [], stderr: '' };
  peer.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  proc.stderr.on('data', (d) => { peer.stderr += d; });
  readline.createInterface({ input: proc.stdout }).on('line', (raw) => {
    const m = { ...JSON.parse(raw), raw };
    const i = peer.waiters.findIndex((w) => w.pred(m));
    if (i >= 0) peer.waiters.splice(i, 1)[0].resolve(m);
    else peer.lines.push(m);
  });
  peer.send = (m) => proc.stdin.write((typeof m === 'string' ? m : JSON.stringify(m)) + '\n');
  // next resolves to the first message (already read or to come) that pred accepts.
  peer.next = (pred, ms = 15000) => {
    const i = peer.lines.findIndex(pred);
    if (i >= 0) return Promise.resolve(peer.lines.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such message in ${ms} ms; stderr: ${peer.stderr}`)), ms);
      peer.waiters.push({ pred, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  };
  // ask sends a request and waits for its reply (or the error reply for it).
  peer.ask = (m, op) => {
    peer.send(m);
    return peer.next((r) => r.trial === m.trial && (r.op === op || (r.op === 'error' && r.for === m.op)));
  };
  t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill(); });
  peer.hello = await peer.next((m) => m.op === 'hello');
  return peer;
}

// segments decodes a datagram as KCP segments (24-byte headers, each followed by its len bytes).
function segments(b64) {
  const b = Buffer.from(b64, 'base64');
  const segs = [];
  for (let off = 0; off < b.length;) {
    assert.ok(b.length - off >= 24, `datagram ${b64}: ${b.length - off} bytes left, not a 24-byte header`);
    const len = b.readUInt32LE(off + 20);
    assert.ok(off + 24 + len <= b.length, `datagram ${b64}: segment len ${len} past its end`);
    segs.push({ conv: b.readUInt32LE(off), cmd: b[off + 4], sn: b.readUInt32LE(off + 12), data: b.subarray(off + 24, off + 24 + len).toString() });
    off += 24 + len;
  }
  return segs;
}

// runP003 runs one p003 trial: server trial sid on s, client trial cid on c; it returns both "done"s.
async function runP003(s, c, sid, cid) {
  const ready = await s.ask({ op: 'listen', exp: 'p003', trial: sid, script: p003Server }, 'ready');
  assert.equal(ready.op, 'ready', ready.error);
  assert.match(ready.addr, /^127\.0\.0\.1:\d+$/);
  const dialed = await c.ask({ op: 'dial', exp: 'p003', trial: cid, server: ready.addr, script: p003Client }, 'ready');
  assert.equal(dialed.op, 'ready', dialed.error);
  assert.ok(dialed.start_ns > 1.5e18, `start_ns ${dialed.start_ns}: not Unix nanoseconds`);
  const returned = await c.next((m) => m.op === 'returned' && m.trial === cid);
  assert.deepEqual([returned.side, returned.err_class], ['client', 'timeout']);
  const settled = await s.ask({ op: 'settle', trial: sid, quiet_ms: 300, deadline_ms: 9000 }, 'settled');
  assert.equal(settled.error, undefined);
  assert.equal((await c.ask({ op: 'close', trial: cid }, 'closed')).closed, false, 'the role had closed the session');
  const cDone = await c.ask({ op: 'teardown', trial: cid }, 'done');
  const sDone = await s.ask({ op: 'teardown', trial: sid }, 'done');
  for (const d of [cDone, sDone]) {
    assert.match(d.raw, /"t_ns":\d{19},/, 'times are exact JSON integers');
    assert.ok(d.datagrams.length >= 2, `only ${d.datagrams.length} datagrams`);
  }
  return { server: ready.addr, client: dialed.addr, cDone, sDone };
}

test('ikcp peer', { skip }, async (t) => {
  await t.test('p003 between two peers, two trials at once', async (t) => {
    const [s, c] = await Promise.all([startPeer(t), startPeer(t)]);
    for (const p of [s, c]) {
      assert.deepEqual([p.hello.impl, p.hello.proto], ['ikcp', 2]);
      assert.match(p.hello.impl_version, /^node-kcp 1\.0\.13, ikcp\.c sha256:[0-9a-f]{12}$/);
    }
    const runs = await Promise.all([runP003(s, c, 1, 11), runP003(s, c, 2, 12)]);
    assert.notEqual(runs[0].server, runs[1].server, 'each trial has its own socket');
    for (const { server, client, cDone, sDone } of runs) {
      // Every datagram is between the two sockets and decodes as KCP segments of one conv.
      const convs = new Set();
      for (const d of [...cDone.datagrams, ...sDone.datagrams]) {
        assert.deepEqual([d.src, d.dst].sort(), [client, server].sort());
        for (const seg of segments(d.b64)) {
          assert.ok(seg.cmd >= 81 && seg.cmd <= 84, `cmd ${seg.cmd}`);
          convs.add(seg.conv);
        }
      }
      assert.equal(convs.size, 1, `convs ${[...convs]}`);
      const first = segments(cDone.datagrams[0].b64)[0];
      assert.deepEqual([cDone.datagrams[0].src, first.cmd, first.sn, first.data], [client, 81, 0, 'handshake']);
      const acks = sDone.datagrams.filter((d) => d.src === server).flatMap((d) => segments(d.b64)).filter((g) => g.cmd === 82);
      assert.ok(acks.some((g) => g.sn === 0), 'the server ACKed sn 0');

      // The client read the server's bytes, then timed out; the first server session ran its script.
      const kinds = (d, session) => d.events.filter((e) => e.session === session).map((e) => e.kind + (e.err_class ? `:${e.err_class}` : ''));
      assert.deepEqual(kinds(cDone, undefined), ['Dial', 'Write', 'Read', 'Read:timeout', 'Close', 'return:timeout']);
      const read = cDone.events.find((e) => e.kind === 'Read');
      assert.equal(Buffer.from(read.data_b64, 'base64').toString(), RESPONSE);
      assert.deepEqual(kinds(sDone, 1), ['Accept', 'Read', 'Write', 'Close', 'return']);
      assert.equal(sDone.torn_down[0], false);
      assert.equal(sDone.accepts, sDone.torn_down.length);
    }
  });

  await t.test('pace: a timed echo, every message written once in order and read back', async (t) => {
    const p = await startPeer(t);
    const opts = { nodelay: 1, interval_ms: 10, resend: 2, nc: 1, snd_wnd: 128, rcv_wnd: 128 };
    const ready = await p.ask({ op: 'listen', trial: 21, script: { options: opts, actions: [{ do: 'echo', deadline_ms: 3000 }] } }, 'ready');
    assert.equal(ready.op, 'ready', ready.error);
    const dialed = await p.ask({ op: 'dial', trial: 22, server: ready.addr,
      script: { options: opts, actions: [{ do: 'pace', count: 30, every_ms: 5, size: 8, deadline_ms: 3000 }] } }, 'ready');
    assert.equal(dialed.op, 'ready', dialed.error);
    const returned = await p.next((m) => m.op === 'returned' && m.trial === 22);
    assert.equal(returned.err_class, undefined, returned.error);
    const done = await p.ask({ op: 'teardown', trial: 22 }, 'done');
    await p.ask({ op: 'teardown', trial: 21 }, 'done');
    const idx = (kind) => done.events.filter((e) => e.kind === kind).map((e) => Buffer.from(e.data_b64, 'base64').readUInt32BE(0));
    const all = [...Array(30).keys()];
    assert.deepEqual(idx('Write'), all);
    assert.deepEqual(idx('Read').sort((a, b) => a - b), all);
  });

  await t.test('bad requests get error replies and the peer goes on', async (t) => {
    const p = await startPeer(t);
    const cases = [
      { name: 'unknown op', req: { op: 'frobnicate', trial: 3 }, err: /unknown op "frobnicate"/ },
      { name: 'listen without script', req: { op: 'listen', exp: 'p003', trial: 4 }, err: /this peer runs scripted roles only/ },
      { name: 'dial without script', req: { op: 'dial', exp: 'p003', trial: 5, server: '127.0.0.1:9' }, err: /scripted roles only/ },
      { name: 'unknown action', req: { op: 'listen', trial: 6, script: { actions: [{ do: 'dance' }] } }, err: /unknown action "dance"/ },
      { name: 'nodelay alone', req: { op: 'listen', trial: 7, script: { options: { nodelay: 1 } } }, err: /go together/ },
      { name: 'min_rto_ms node-kcp cannot set', req: { op: 'listen', trial: 8, script: { options: { min_rto_ms: 50 } } }, err: /cannot set rx_minrto/ },
      { name: 'bad server address', req: { op: 'dial', trial: 9, server: 'nowhere', script: p003Client }, err: /server address/ },
      { name: 'settle of no trial', req: { op: 'settle', trial: 10, quiet_ms: 1, deadline_ms: 1 }, err: /no trial 10/ },
    ];
    for (const tc of cases) {
      await t.test(tc.name, async () => {
        p.send(tc.req);
        const r = await p.next((m) => m.trial === tc.req.trial);
        assert.deepEqual([r.op, r.for], ['error', tc.req.op]);
        assert.match(r.error, tc.err);
      });
    }
    await t.test('malformed JSON line', async () => {
      p.send('{"op":"listen",');
      p.send('[1,2]');
      for (let i = 0; i < 2; i++) {
        const r = await p.next((m) => m.op === 'error' && m.trial === undefined);
        assert.match(r.error, /^bad request/);
      }
    });
    const r = await p.ask({ op: 'listen', trial: 20, script: p003Server }, 'ready');
    assert.equal(r.op, 'ready', 'the peer still works after the bad requests');
  });

  await t.test('optional bind address and clock request', async (t) => {
    const p = await startPeer(t);
    const r = await p.ask({ op: 'listen', trial: 30, bind: '127.0.0.2', script: p003Server }, 'ready');
    assert.equal(r.op, 'ready', r.error);
    assert.match(r.addr, /^127\.0\.0\.2:\d+$/);
    const bad = await p.ask({ op: 'listen', trial: 31, bind: 'nowhere', script: p003Server }, 'ready');
    assert.deepEqual([bad.op, bad.for], ['error', 'listen']);
    assert.match(bad.error, /bind address/);
    const before = BigInt(Date.now() - 1000) * 1000000n;
    const c = await p.ask({ op: 'clock', trial: 32 }, 'time');
    assert.equal(c.op, 'time');
    assert.match(c.raw, /"now_ns":\d{19}[,}]/, 'an exact JSON integer');
    assert.ok(BigInt(c.raw.match(/"now_ns":(\d+)/)[1]) > before, 'now_ns is the wall clock');
  });

  await t.test('stdin closed: the peer tears its trials down and exits', async (t) => {
    const [s, c] = await Promise.all([startPeer(t), startPeer(t)]);
    const ready = await s.ask({ op: 'listen', trial: 1, script: { actions: [{ do: 'read' }] } }, 'ready');
    const dialed = await c.ask({ op: 'dial', trial: 1, server: ready.addr, script: { actions: [{ do: 'write', data: 'x' }, { do: 'read', deadline_ms: 60000 }] } }, 'ready');
    assert.equal(dialed.op, 'ready', dialed.error);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the client's write reaches the server
    // The server's role reads until an error, with no deadline: it is still running when settle's ends.
    const settled = await s.ask({ op: 'settle', trial: 1, quiet_ms: 50, deadline_ms: 300 }, 'settled');
    assert.equal(settled.error, 'server role still running at the deadline');
    const began = Date.now();
    s.proc.stdin.end();
    c.proc.stdin.end();
    for (const p of [s, c]) {
      // Exiting by itself, before its 5 s safety exit, shows no socket or timer was left open.
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      assert.doesNotMatch(p.stderr, /still open/);
    }
    assert.ok(Date.now() - began < 4000, `took ${Date.now() - began} ms`);
  });
});
