// A scripted y-websocket client for the sync tests: commands as JSON lines on stdin, events as JSON lines on stdout.
//
//   node client.js ws://127.0.0.1:PORT/sync ROOM [TOKEN]
//
// Events: {"event":"status","status":...}, {"event":"synced"}, {"event":"closed","code":...,"reason":...}
// (a close code that stops reconnecting), {"event":"connection-close","code":...}, and one answer per
// command, {"event":"done","id":...,...}. Commands ({"id":..., "op":...}):
//   set      {root, path: [keys...], key, value}   set a value in a (nested) map; value {"$map": {...}} makes a Y.Map
//   delete   {root, path, key}
//   dump     {roots: [...]}                         answers {"doc": {root: json}}
//   awareness {state}                              sets the local awareness state
//   peers    {}                                     answers {"states": {clientId: state}}
//   edits    {root, key, count}                     `count` map edits, one transaction each, as fast as possible
//   close    {}                                     destroys the provider and exits
'use strict'

const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
const WebSocket = require('ws')
const readline = require('readline')

const [url, room, token] = process.argv.slice(2)
const doc = new Y.Doc()
const provider = new WebsocketProvider(url, room, doc, {
  WebSocketPolyfill: WebSocket,
  disableBc: true,
  params: token ? { token } : {}
})

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n')

provider.on('status', ({ status }) => emit({ event: 'status', status }))
provider.on('sync', (synced) => { if (synced) emit({ event: 'synced' }) })
provider.on('closed', ({ code, reason }) => emit({ event: 'closed', code, reason }))
provider.on('connection-close', (event) => emit({ event: 'connection-close', code: event ? event.code : null, reason: event ? event.reason : null }))

const toY = (value) => {
  if (value !== null && typeof value === 'object' && '$map' in value) {
    const map = new Y.Map()
    for (const [k, v] of Object.entries(value.$map)) map.set(k, toY(v))
    return map
  }
  return value
}

const target = (root, path) => {
  let map = doc.getMap(root)
  for (const key of path || []) {
    const next = map.get(key)
    if (!(next instanceof Y.Map)) throw new Error(`no map at ${root}/${path.join('/')}`)
    map = next
  }
  return map
}

const handlers = {
  set: ({ root, path, key, value }) => { target(root, path).set(key, toY(value)); return {} },
  delete: ({ root, path, key }) => { target(root, path).delete(key); return {} },
  dump: ({ roots }) => {
    const out = {}
    for (const root of roots) out[root] = doc.getMap(root).toJSON()
    return { doc: out }
  },
  awareness: ({ state }) => { provider.awareness.setLocalState(state); return { clientId: doc.clientID } },
  peers: () => {
    const states = {}
    provider.awareness.getStates().forEach((state, id) => { states[id] = state })
    return { states, clientId: doc.clientID }
  },
  edits: ({ root, key, count }) => {
    const map = doc.getMap(root)
    const started = Date.now()
    for (let i = 0; i < count; i++) map.set(key, i)
    return { ms: Date.now() - started }
  },
  close: () => { provider.destroy(); setImmediate(() => process.exit(0)); return {} }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return
  const command = JSON.parse(line)
  try {
    emit({ event: 'done', id: command.id, ...handlers[command.op](command) })
  } catch (error) {
    emit({ event: 'done', id: command.id, error: String(error) })
  }
})
process.stdin.on('end', () => { provider.destroy(); process.exit(0) })
