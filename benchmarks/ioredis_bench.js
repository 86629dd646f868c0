// benchmarks/ioredis_bench.js — ioredis's Cluster over the same TLS cluster, for the async table's reference row:
// SETs with N promises in flight (the peers' "batched" figure), certificate chain and name verified. One JSON line.
// usage: node ioredis_bench.js SEED_HOST SEED_PORT CA_FILE TLS_NAME OPS IN_FLIGHT   (ioredis from NODE_PATH)
'use strict';
const fs = require('fs');
const { Cluster } = require('ioredis');

const [host, port, caFile, tlsName, opsText, inFlightText] = process.argv.slice(2);
const ops = Number(opsText);
const inFlight = Number(inFlightText);
const out = { bench: 'ioredis', ops, in_flight: inFlight, ioredis: require('ioredis/package.json').version, node: process.version };

const cluster = new Cluster([{ host, port: Number(port) }], {
  // The nodes are reported by IP; dial the IP and verify the certificate for tlsName (what ip_to_hostname's
  // keep-IP mode does), so ioredis checks chain and name like addrmap.
  dnsLookup: (address, callback) => callback(null, address),
  redisOptions: { tls: { ca: fs.readFileSync(caFile), servername: tlsName } },
  enableOfflineQueue: true,
});

async function main() {
  await cluster.set('bench:warm', 'xyz');
  let issued = 0;
  let finished = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  await new Promise((resolve) => {
    const next = () => {
      if (issued >= ops) return;
      const i = issued++;
      cluster.set('bench:' + i, 'xyz').then(
        () => { if (++finished === ops) resolve(); else next(); },
        () => { ++failed; if (++finished === ops) resolve(); else next(); });
    };
    for (let k = 0; k < inFlight; ++k) next();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  out.ops_per_s = Math.round(ops / seconds);
  out.cpu_s_per_1m = Number((((cpu.user + cpu.system) / 1e6) / ops * 1e6).toFixed(2));
  out.failed = failed;
}

main().then(() => { console.log(JSON.stringify(out)); cluster.disconnect(); process.exit(0); },
            (e) => { out.error = String(e && e.message || e); console.log(JSON.stringify(out)); process.exit(1); });
