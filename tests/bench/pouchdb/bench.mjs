// The PouchDB peer of `make bench ONLY=pouchdb` (tests/bench/bench_pouchdb.c
// runs it): the same realistic residents as tramsync's benchmarks, measured
// the same way - one client, loopback, the clock from the start of the
// transfer until the other side holds every record, bytes counted on the wire.
//
//   node bench.mjs RESIDENTS.jsonl
//
// RESIDENTS.jsonl: one resident a line, {"_id": ..., field: value, ...}
// (bench_pouchdb writes it with tests/support/ts_test_records.c).
//
// The server is express-pouchdb on PouchDB's in-memory adapter (the district);
// the client is PouchDB on the in-memory adapter too (the station), talking
// to it over HTTP through a counting relay on 127.0.0.1, so the bytes are what
// crossed the connection both ways (HTTP headers and JSON bodies; no TLS).
//
//   pouchdb_push_rps            records/s: a station's database of N residents
//                               replicated to an empty district database
//   pouchdb_push_bytes_per_record     bytes on the wire both ways / N
//   pouchdb_first_sync_rps      records/s: an empty station database
//                               replicated from the district's N residents
//   pouchdb_first_sync_bytes_per_record
//
// Output: "BENCH <name> <value> <unit>" lines on stdout, notes on stderr.
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import express from 'express';
import PouchDBCore from 'pouchdb-core';
import memory from 'pouchdb-adapter-memory';
import httpAdapter from 'pouchdb-adapter-http';
import replication from 'pouchdb-replication';
import mapreduce from 'pouchdb-mapreduce';
import expressPouchDB from 'express-pouchdb';

const PouchDB = PouchDBCore.plugin(memory).plugin(httpAdapter).plugin(replication).plugin(mapreduce);
const ServerDB = PouchDB.defaults({ adapter: 'memory' });
const LocalDB = PouchDB.defaults({ adapter: 'memory' });

const file = process.argv[2];
if (!file) {
    console.error('usage: node bench.mjs RESIDENTS.jsonl');
    process.exit(2);
}
const docs = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
const n = docs.length;
const note = (s) => console.error(`bench_pouchdb: ${s}`);
const bench = (name, value, unit) => console.log(`BENCH ${name} ${value} ${unit}`);

function listen(server) {
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

// A relay that counts every byte each way between the client and the server.
function relay(to) {
    const counted = { up: 0, down: 0 };
    const server = net.createServer((c) => {
        const s = net.connect(to, '127.0.0.1');
        c.on('data', (d) => {
            counted.up += d.length;
            if (!s.write(d)) c.pause();
        });
        s.on('drain', () => c.resume());
        s.on('data', (d) => {
            counted.down += d.length;
            if (!c.write(d)) s.pause();
        });
        c.on('drain', () => s.resume());
        c.on('end', () => s.end());
        s.on('end', () => c.end());
        c.on('error', () => s.destroy());
        s.on('error', () => c.destroy());
    });
    return { server, counted };
}

const app = express();
app.use('/', expressPouchDB(ServerDB, { inMemoryConfig: true, mode: 'minimumForPouchDB', logPath: '/dev/null' }));
const httpServer = http.createServer(app);
const port = await listen(httpServer);
const r = relay(port);
const rport = await listen(r.server);
const remote = (name) => new PouchDB(`http://127.0.0.1:${rport}/${name}`);

// push: a station's N residents to an empty district database
const station = new LocalDB('station');
for (let i = 0; i < n; i += 1000)
    await station.bulkDocs(docs.slice(i, i + 1000));
const district = remote('district');
await district.info(); // creates it; not counted below
let before = r.counted.up + r.counted.down;
let t0 = process.hrtime.bigint();
await station.replicate.to(district, { batch_size: 1000, batches_limit: 10 });
let secs = Number(process.hrtime.bigint() - t0) / 1e9;
const held = (await district.info()).doc_count;
if (held !== n)
    throw new Error(`the district holds ${held} of ${n}`);
let bytes = r.counted.up + r.counted.down - before;
note(`push: ${n} records in ${secs.toFixed(2)} s, ${bytes} bytes on the wire`);
bench('pouchdb_push_rps', Math.round(n / secs), 'records/s');
bench('pouchdb_push_bytes_per_record', Math.round(bytes / n), 'bytes');

// first sync: an empty station database from the district's N residents
const fresh = new LocalDB('fresh');
before = r.counted.up + r.counted.down;
t0 = process.hrtime.bigint();
await fresh.replicate.from(remote('district'), { batch_size: 1000, batches_limit: 10 });
secs = Number(process.hrtime.bigint() - t0) / 1e9;
const got = (await fresh.info()).doc_count;
if (got !== n)
    throw new Error(`the station holds ${got} of ${n}`);
bytes = r.counted.up + r.counted.down - before;
note(`first sync: ${n} records in ${secs.toFixed(2)} s, ${bytes} bytes on the wire`);
bench('pouchdb_first_sync_rps', Math.round(n / secs), 'records/s');
bench('pouchdb_first_sync_bytes_per_record', Math.round(bytes / n), 'bytes');

r.server.close();
httpServer.close();
process.exit(0);
