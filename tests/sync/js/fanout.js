// Fan-out benchmark client: one writer and N readers (y-websocket providers in this process) on one room.
//
//   node fanout.js ws://HOST:PORT/sync ROOM READERS EDITS [TOKEN]
//
// Once all are synced, the writer makes EDITS map edits (one transaction each) as fast as it can;
// the clock stops when every reader has the last one. Prints one JSON line:
// {"edits", "readers", "write_ms" (the writer's loop), "total_ms" (first edit to last reader), "per_reader_ms": [...]}.
'use strict'

const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
const WebSocket = require('ws')

const [url, room, readersArg, editsArg, token] = process.argv.slice(2)
const readerCount = Number(readersArg)
const edits = Number(editsArg)
const key = 'fanout-' + Math.random().toString(36).slice(2)

const connect = () => {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url, room, doc, {
    WebSocketPolyfill: WebSocket,
    disableBc: true,
    params: token ? { token } : {}
  })
  const synced = new Promise((resolve) => provider.once('sync', resolve))
  return { doc, provider, synced }
}

const main = async () => {
  const readers = Array.from({ length: readerCount }, connect)
  const writer = connect()
  await Promise.all([writer.synced, ...readers.map((r) => r.synced)])
  const map = (doc) => doc.getMap('bench')
  let started = 0
  const finished = readers.map((reader) => new Promise((resolve) => {
    const bench = map(reader.doc)
    const check = () => {
      if (bench.get(key) === edits - 1) {
        bench.unobserve(check)
        resolve(performance.now() - started)
      }
    }
    bench.observe(check)
  }))
  started = performance.now()
  const bench = map(writer.doc)
  for (let i = 0; i < edits; i++) bench.set(key, i)
  const writeMs = performance.now() - started
  const perReader = await Promise.all(finished)
  process.stdout.write(JSON.stringify({
    edits,
    readers: readerCount,
    write_ms: Math.round(writeMs),
    total_ms: Math.round(Math.max(...perReader)),
    per_reader_ms: perReader.map(Math.round)
  }) + '\n')
  for (const client of [writer, ...readers]) client.provider.destroy()
  setTimeout(() => process.exit(0), 50)
}

main().catch((error) => { console.error(error); process.exit(1) })
