// benchmarks/ioredis_ssubscribe.js — ioredis's sharded subscriber (Cluster with shardedSubscribers: true, ioredis 5.4+)
// over the same TLS cluster, for the pub/sub table's reference row: messages/s to ONE subscriber on one shard channel,
// counted from 'smessage' events, the clock running from the first message to the "end" message. The publisher works
// like pubsub_bench's: a thread of its own (a worker), its own connection (an ioredis Redis client to the channel's
// owner), SPUBLISH pipelined BATCH at a time (at most 4 batches unanswered), never more than 65536 messages ahead of
// the subscriber. Certificate chain and name verified. Prints one JSON line.
// usage: node ioredis_ssubscribe.js SEED_HOST SEED_PORT CA_FILE TLS_NAME MESSAGES [CHANNEL] [BATCH] [PAYLOAD_BYTES] [ROUNDS]
//   (ioredis from NODE_PATH; CHANNEL '' or absent: the first "bench:ps:<i>" owned by the master of the lowest slot,
//   pubsub_bench's default; BATCH 256, PAYLOAD_BYTES 16, ROUNDS 8 by default)
'use strict';
const fs = require('fs');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const WINDOW = 65536;         // the publisher's lead over the subscriber, at most (messages)
const PROGRESS_EVERY = 256;   // how often the subscriber tells the publisher how far it got
const UNANSWERED_BATCHES = 4;

if (isMainThread) {
  main().then((out) => { console.log(JSON.stringify(out)); process.exit(0); },
              (out) => { console.log(JSON.stringify(out)); process.exit(1); });
} else {
  publisherThread();
}

async function main() {
  const [host, port, caFile, tlsName, messagesText, channelArg, batchText, payloadText, roundsText] = process.argv.slice(2);
  const messages = Number(messagesText);
  const batch = Number(batchText || 256);
  const payloadBytes = Number(payloadText || 16);
  let rounds = Number(roundsText || 8);
  const out = { bench: 'ioredis_ssubscribe', messages, batch, payload_bytes: payloadBytes, rounds, window: WINDOW };
  let cluster;
  let worker;
  try {
    const { Cluster } = require('ioredis');
    const calculateSlot = require('cluster-key-slot');
    out.ioredis = require('ioredis/package.json').version;
    out.node = process.version;
    for (const [name, n] of [['MESSAGES', messages], ['BATCH', batch], ['PAYLOAD_BYTES', payloadBytes], ['ROUNDS', rounds]])
      if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    if (rounds > messages) rounds = messages;
    const ca = fs.readFileSync(caFile);
    cluster = new Cluster([{ host, port: Number(port) }], {
      // As ioredis_bench.js: the nodes are reported by IP; dial the IP, verify the certificate for tlsName.
      dnsLookup: (address, callback) => callback(null, address),
      redisOptions: { tls: { ca, servername: tlsName } },
      shardedSubscribers: true,
    });
    await new Promise((resolve, reject) => { cluster.once('ready', resolve); cluster.once('error', reject); });
    cluster.on('error', (e) => { out.cluster_errors = (out.cluster_errors || 0) + 1; out.last_cluster_error = String(e && e.message || e); });

    // The channel and its owner, as pubsub_bench chooses them.
    const ownerOf = (slot) => cluster.slots[slot] && cluster.slots[slot][0];
    let channel = channelArg || '';
    if (!channel) {
      let lowest = 0;
      while (lowest < 16384 && !ownerOf(lowest)) ++lowest;
      for (let i = 0; !channel; ++i)
        if (ownerOf(calculateSlot('bench:ps:' + i)) === ownerOf(lowest)) channel = 'bench:ps:' + i;
    }
    const slot = calculateSlot(channel);
    const owner = ownerOf(slot);
    if (!owner) throw new Error(`no node owns slot ${slot}`);
    const cut = owner.lastIndexOf(':');
    out.redis_node = owner;
    out.tls_name = tlsName;
    out.channel = channel;
    out.slot = slot;

    // The publisher thread and what the subscriber tells it.
    const progress = new Int32Array(new SharedArrayBuffer(4));  // [0]: messages received so far
    worker = new Worker(__filename, { workerData: {
      host: owner.slice(0, cut), port: Number(owner.slice(cut + 1)), caFile, tlsName, channel, batch, payloadBytes,
      progress } });
    const replies = [];
    let waiting = null;
    let workerError = null;
    worker.on('message', (m) => { if (waiting) { const w = waiting; waiting = null; w(m); } else replies.push(m); });
    worker.on('error', (e) => { workerError = e; if (waiting) { const w = waiting; waiting = null; w({ error: String(e && e.message || e) }); } });
    const fromWorker = () => new Promise((resolve) => {
      if (replies.length) resolve(replies.shift()); else if (workerError) resolve({ error: String(workerError.message || workerError) }); else waiting = resolve;
    });
    const ready = await fromWorker();
    if (ready.error) throw new Error(ready.error);

    // The subscriber: counts 'smessage' events on the channel, ends a round at "end".
    let round = null;
    cluster.on('smessage', (ch, message) => {
      if (round === null || ch !== channel) return;
      if (round.first === 0n) {
        round.first = process.hrtime.bigint();
        round.cpu = process.cpuUsage();
      }
      if (message === 'end') {
        const r = round;
        round = null;
        r.done(process.hrtime.bigint(), process.cpuUsage(r.cpu));
        return;
      }
      if (++round.received % PROGRESS_EVERY === 0) Atomics.store(progress, 0, round.received);
    });
    await cluster.ssubscribe(channel);

    const totals = { sent: 0, received: 0, seconds: 0, cpu: 0, publishSeconds: 0, waits: 0, rounds: [] };
    const measure = async (count, add) => {
      Atomics.store(progress, 0, 0);
      let state;
      const finished = new Promise((resolve) => {
        state = { first: 0n, received: 0, cpu: null, done: (last, cpu) => resolve({ last, cpu }) };
        round = state;
      });
      worker.postMessage({ count });
      const published = await fromWorker();
      if (published.error) throw new Error('publisher: ' + published.error);
      const ended = await Promise.race([finished, new Promise((resolve) => setTimeout(() => resolve(null), 5000))]);
      if (ended === null) {
        round = null;
        throw new Error(`no "end" message within 5 s of the publisher's last reply (${state.received} of ${count} received)`);
      }
      if (!add) return;
      const seconds = Number(ended.last - state.first) / 1e9;
      totals.sent += published.sent;
      totals.received += state.received;
      totals.seconds += seconds;
      totals.cpu += (ended.cpu.user + ended.cpu.system) / 1e6;
      totals.publishSeconds += published.seconds;
      totals.waits += published.waits;
      totals.rounds.push(seconds > 0 ? Math.round(state.received / seconds) : 0);
    };

    await measure(Math.min(10000, messages), false);  // warm-up
    for (let i = 0; i < rounds; ++i) {
      const count = Math.floor(messages * (i + 1) / rounds) - Math.floor(messages * i / rounds);
      await measure(count, true);
    }
    out.msgs_per_s = Number((totals.received / totals.seconds).toFixed(1));
    out.messages_received = totals.received;
    out.lost = totals.sent - totals.received;
    out.seconds = Number(totals.seconds.toFixed(4));
    // The whole process's CPU (ioredis, and the publisher worker too) from each round's first message to "end".
    out.process_cpu_us_per_msg = Number((totals.cpu / totals.received * 1e6).toFixed(3));
    out.publisher_msgs_per_s = Number((totals.sent / totals.publishSeconds).toFixed(1));
    out.publisher_waits = totals.waits;
    out.round_msgs_per_s = totals.rounds;
    out.best_round_msgs_per_s = Math.max(...totals.rounds);
    await cluster.sunsubscribe(channel);
    worker.postMessage({ quit: true });
    cluster.disconnect();
    return out;
  } catch (e) {
    out.error = String(e && e.message || e);
    if (worker) worker.terminate();
    if (cluster) cluster.disconnect();
    throw out;
  }
}

// ---- the publisher (a worker thread) ---------------------------------------------------------------------

function publisherThread() {
  const Redis = require('ioredis');
  const { host, port, caFile, tlsName, channel, batch, payloadBytes, progress } = workerData;
  const payload = 'p'.repeat(payloadBytes);
  const pub = new Redis({ host, port, tls: { ca: fs.readFileSync(caFile), servername: tlsName }, maxRetriesPerRequest: 0 });
  let ready = false;
  pub.once('ready', () => { ready = true; parentPort.postMessage({ ready: true }); });
  pub.on('error', (e) => { if (!ready) { ready = true; parentPort.postMessage({ error: String(e && e.message || e) }); } });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const check = (n) => {
    if (n !== 1) throw new Error(`SPUBLISH reached ${n} subscribers (1 expected: is another subscriber on the channel?)`);
  };
  const checkBatch = (results) => {
    for (const [err, n] of results) {
      if (err) throw err;
      check(n);
    }
  };
  parentPort.on('message', async (m) => {
    if (m.quit) { pub.disconnect(); parentPort.close(); return; }
    const count = m.count;
    let sent = 0;
    let waits = 0;
    try {
      const unanswered = [];
      const started = process.hrtime.bigint();
      while (sent < count) {
        const k = Math.min(batch, count - sent);
        const waitedFrom = Date.now();
        while (sent - Atomics.load(progress, 0) > WINDOW) {
          if (Date.now() - waitedFrom > 5000) throw new Error(`the subscriber got no further than ${Atomics.load(progress, 0)} in 5 s`);
          ++waits;
          await sleep(1);
        }
        const p = pub.pipeline();
        for (let i = 0; i < k; ++i) p.spublish(channel, payload);
        unanswered.push(p.exec());
        sent += k;
        if (unanswered.length > UNANSWERED_BATCHES) checkBatch(await unanswered.shift());
      }
      const end = pub.spublish(channel, 'end');
      for (const u of unanswered) checkBatch(await u);
      check(await end);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      parentPort.postMessage({ sent, waits, seconds });
    } catch (e) {
      parentPort.postMessage({ error: String(e && e.message || e), sent, waits });
    }
  });
}
