"""Open-loop HTTP load at a fixed rate over raw keep-alive sockets, timed to ~0.1 ms.

Each request has a due time (start + i / rate) and its latency runs from that due time to the
last byte of its response, so a stalled server cannot hide queued work (no coordinated
omission). A sender thread sleeps until each due time with time.sleep (nanosleep: ~60 µs
late at worst here), where an asyncio sleep rounds up to whole milliseconds (epoll's timeout
unit) and would add up to 1 ms of client lateness to every measurement; a receiver thread
blocks in epoll and stamps each response as it completes. Both sleep between events, so the
client leaves the server its core (spinning instead starved the server on 2 vCPUs).

    python bench/loadgen.py --port 8090 --path /v1/decisions --rate 1000 --seconds 20 \
        --bodies bodies.jsonl [--header 'Authorization: Bearer …'] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import sys
import threading
import time
from collections import deque

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description="open-loop HTTP load at a fixed rate")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--rate", type=float, default=1_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--bodies", required=True, help="JSON lines, one request body each")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    sys.setswitchinterval(5e-5)  # a waking thread gets the GIL within 50 µs, not 5 ms
    port, rate, seconds, connections = args.port, args.rate, args.seconds, args.connections
    headers = "".join(f"{h}\r\n" for h in args.header)
    head = (
        f"POST {args.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}"
        "Content-Length: "
    ).encode()
    with open(args.bodies) as handle:
        bodies = [line.encode() for line in handle.read().splitlines() if line.strip()]
    if len(bodies) < int(rate * seconds):
        raise SystemExit(f"need {int(rate * seconds)} bodies, {args.bodies} has {len(bodies)}")
    total = int(rate * seconds)
    requests = [head + str(len(b)).encode() + b"\r\n\r\n" + b for b in bodies[:total]]
    poller = select.epoll()
    socks = {}
    idle: deque[int] = deque()
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", int(port)))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks[s.fileno()] = s
        poller.register(s.fileno(), select.EPOLLIN)
        idle.append(s.fileno())
    state: dict[int, tuple[float, bytearray]] = {}
    waiting: deque[tuple[float, bytes]] = deque()
    latencies, lateness, statuses = [], [], {}
    lock = threading.Lock()
    start = time.perf_counter() + 0.1

    def send(fd: int, due: float, payload: bytes) -> None:
        state[fd] = (due, bytearray())
        socks[fd].sendall(payload)  # small: fits the socket buffer
        lateness.append(time.perf_counter() - due)

    def sender() -> None:
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            with lock:
                if idle:
                    send(idle.popleft(), due, requests[i])
                else:
                    waiting.append((due, requests[i]))

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    done = 0
    while done < total:
        for fd, _ in poller.poll(0.5):
            chunk = socks[fd].recv(65536)
            stamp = time.perf_counter()
            with lock:
                due, buffer = state[fd]
                buffer += chunk
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    continue
                header = bytes(buffer[:end]).lower()
                length = int(header.split(b"content-length:")[1].split(b"\r\n")[0])
                if len(buffer) < end + 4 + length:
                    continue
                latencies.append(stamp - due)
                status = int(header.split(b" ", 2)[1])
                statuses[status] = statuses.get(status, 0) + 1
                done += 1
                del state[fd]
                if waiting:
                    send(fd, *waiting.popleft())
                else:
                    idle.append(fd)
    elapsed = time.perf_counter() - start
    ms = np.asarray(latencies) * 1e3
    late_us = np.asarray(lateness) * 1e6
    p50, p90, p99, p999 = np.percentile(ms, [50, 90, 99, 99.9])
    print(
        json.dumps(
            {
                "requests": total,
                "achieved_rps": round(total / elapsed, 1),
                "p50_ms": round(p50, 3),
                "p90_ms": round(p90, 3),
                "p99_ms": round(p99, 3),
                "p99.9_ms": round(p999, 3),
                "max_ms": round(float(ms.max()), 3),
                "send_late_p99_us": round(float(np.percentile(late_us, 99)), 1),
                "statuses": statuses,
            }
        )
    )


if __name__ == "__main__":
    main()
