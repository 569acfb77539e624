// A Jemput client written from docs/protocol.md alone, with only @automerge/automerge,
// a CBOR library and a zstd library: logs in, pulls its areas, records a visit on the
// first household it holds, pushes it, and prints one JSON line for the test that
// runs it: {"household", "visit", "answers"}.
//
// usage: node client.mjs SERVER_URL USER PASSWORD DICTIONARY_FILE

import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import * as Automerge from "@automerge/automerge";
import cbor from "cbor";
import { init, compressUsingDict, createCCtx, decompressUsingDict, createDCtx } from "@bokuweb/zstd-wasm";

const [server, user, password, dictFile] = process.argv.slice(2);
const dict = readFileSync(dictFile);
const CONTENT_TYPE = "application/vnd.jemput.sync+cbor+zstd";

function fail(msg) {
  console.error(`js-client: ${msg}`);
  process.exit(1);
}

async function login(actor) {
  const resp = await fetch(`${server}/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user, password, device_name: "js-client", actors: [actor] }),
  });
  if (!resp.ok) fail(`login: HTTP ${resp.status} ${await resp.text()}`);
  return resp.json();
}

async function sync(token, request) {
  const body = compressUsingDict(createCCtx(), cbor.encode(request), dict, 19);
  const resp = await fetch(`${server}/v1/sync`, {
    method: "POST",
    headers: { "content-type": CONTENT_TYPE, authorization: `Bearer ${token}` },
    body,
  });
  const bytes = new Uint8Array(await resp.arrayBuffer());
  if (!resp.ok) fail(`sync: HTTP ${resp.status} ${new TextDecoder().decode(bytes)}`);
  return cbor.decodeFirstSync(decompressUsingDict(createDCtx(), bytes, dict));
}

await init();
const actor = randomBytes(16).toString("hex");
const session = await login(actor);

// Pull every page of the areas this user holds.
const docs = new Map();
let cursors = {};
for (let more = true; more; ) {
  const resp = await sync(session.token, { cursors, push: [] });
  for (const d of resp.docs) {
    const data = new Uint8Array(d.data);
    docs.set(d.id, docs.has(d.id) ? Automerge.loadIncremental(docs.get(d.id), data) : Automerge.load(data, actor));
  }
  cursors = resp.cursors;
  more = resp.more;
}
if (docs.size === 0) fail("no households in this user's areas");
const [id, before] = [...docs.entries()].sort(([a], [b]) => (a < b ? -1 : 1))[0];

// A visit, as the protocol's table says: plain strings (ImmutableString), integer
// sizes, a timestamp in milliseconds, the signer's own name; the change stamped in
// milliseconds (Automerge's JavaScript default is seconds).
const S = (s) => new Automerge.ImmutableString(s);
const now = Date.now();
const visitId = `v-${randomBytes(8).toString("hex")}`;
const answers = {
  floor_material: "tanah",
  wall_material: "bambu",
  meals_per_day: 1,
  protein_per_week: 0,
  clinic_cost: false,
  savings: 100000,
};
const living = Object.values(before.members).filter((m) => ["lives_here", "new"].includes(String(m.presence))).length;
const after = Automerge.change(before, { message: "visit", time: now }, (doc) => {
  const answerMap = {};
  for (const [k, v] of Object.entries(answers)) answerMap[k] = typeof v === "string" ? S(v) : v;
  doc.visits[visitId] = {
    date: S(new Date(now).toISOString().slice(0, 10)),
    at: new Date(now),
    kader: S(user),
    result: S("found"),
    set: S("bps14@2005.1"),
    answers: answerMap,
    size: living,
    member_changes: {},
  };
  delete doc.status;
  doc.status = S("found");
});
const changes = Automerge.getChanges(before, after);
const total = changes.reduce((n, c) => n + c.length, 0);
const joined = new Uint8Array(total);
let at = 0;
for (const c of changes) {
  joined.set(c, at);
  at += c.length;
}
const resp = await sync(session.token, { cursors, push: [{ id, changes: joined }] });
if (resp.rejected.length > 0) fail(`visit refused: ${JSON.stringify(resp.rejected)}`);
console.log(JSON.stringify({ household: id, visit: visitId, answers }));
