#!/usr/bin/env python3
"""The Python relay that tether-bench measures Tether's relay against.

Written as the websockets library's own docs show a broadcast server: a
dictionary of connected clients, one coroutine per connection, and
websockets.broadcast() for fan-out. It speaks the subset of Tether's envelope
the benchmark needs (hello, telemetry, command, result, routed by device id),
with no accounts: a socket says who it is in its path,
/agent?device=ID or /client?devices=ID,ID,...

Usage: relay.py [port]   (prints "listening <port>" when ready; SIGTERM stops it)
"""

import asyncio
import itertools
import json
import signal
import sys
from urllib.parse import parse_qs, urlsplit

import websockets

try:  # what performance-minded users of asyncio run it on, when installed
    import uvloop
except ImportError:
    uvloop = None

COMMAND_TIMEOUT = 20.0

agents = {}  # device id -> agent connection
hellos = {}  # device id -> the agent's hello data
watchers = {}  # device id -> set of client connections watching it
pending = {}  # relay command id -> (client connection, client's id, device, timer)
next_id = itertools.count(1)


def path_of(ws):
    path = getattr(ws, "path", None)  # websockets <= 12
    if path is None:
        path = ws.request.path  # websockets >= 13
    return path


async def handler(ws, path=None):
    url = urlsplit(path or path_of(ws))
    query = parse_qs(url.query)
    if url.path == "/agent" and query.get("device"):
        await serve_agent(ws, query["device"][0])
    elif url.path == "/client":
        devices = [d for d in query.get("devices", [""])[0].split(",") if d]
        await serve_client(ws, devices)
    else:
        await ws.close(1008, "unknown path")


async def serve_agent(ws, device):
    old = agents.get(device)
    if old is not None:
        await old.close(4001, "replaced by a newer connection")
    agents[device] = ws
    try:
        async for frame in ws:
            msg = json.loads(frame)
            kind = msg.get("type")
            if kind == "telemetry":
                msg["device"] = device
                websockets.broadcast(watchers.get(device, ()), json.dumps(msg))
            elif kind == "result":
                entry = pending.pop(msg.get("id"), None)
                if entry is not None:
                    client, client_id, dev, timer = entry
                    timer.cancel()
                    msg["id"], msg["device"] = client_id, dev
                    await send_quietly(client, json.dumps(msg))
            elif kind == "hello":
                hellos[device] = msg.get("data")
    finally:
        if agents.get(device) is ws:
            del agents[device]
            hellos.pop(device, None)


async def serve_client(ws, devices):
    for d in devices:
        watchers.setdefault(d, set()).add(ws)
    try:
        async for frame in ws:
            msg = json.loads(frame)
            if msg.get("type") != "command":
                continue
            device, client_id = msg.get("device"), msg.get("id")
            agent = agents.get(device)
            if device not in devices:
                await ws.send(result(client_id, device, "not_paired", "not paired with this device"))
            elif agent is None or device not in hellos:
                await ws.send(result(client_id, device, "device_offline", "the device is offline"))
            else:
                rid = "r%x" % next(next_id)
                timer = asyncio.get_running_loop().call_later(COMMAND_TIMEOUT, expire, rid)
                pending[rid] = (ws, client_id, device, timer)
                msg["id"] = rid
                await send_quietly(agent, json.dumps(msg))
    finally:
        for d in devices:
            group = watchers.get(d)
            if group is not None:
                group.discard(ws)
                if not group:
                    del watchers[d]


def result(client_id, device, code, message):
    return json.dumps({"type": "result", "id": client_id, "device": device, "ok": False,
                       "error": {"code": code, "message": message}})


def expire(rid):
    entry = pending.pop(rid, None)
    if entry is not None:
        client, client_id, device, _ = entry
        asyncio.ensure_future(send_quietly(client, result(client_id, device, "timeout", "no answer in time")))


async def send_quietly(ws, frame):
    try:
        await ws.send(frame)
    except websockets.ConnectionClosed:
        pass


async def main(port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(handler, "127.0.0.1", port, ping_interval=25, ping_timeout=35,
                                max_size=8 * 1024 * 1024, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print("listening %d" % port, flush=True)
        await stop


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if uvloop is not None:
        uvloop.install()
    asyncio.run(main(port))
