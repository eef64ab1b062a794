#!/usr/bin/env python3
"""The exporter under clients that send their request headers a byte a second (slowloris).

Starts the binary (`serve` on the bundled example manifests, on a free loopback port), then
for each count opens that many connections that trickle `GET /metrics HTTP/1.1 ...` one byte
a second, and meanwhile: samples the exporter's RSS every 50 ms (peak), and times a plain
`GET /metrics` from a fresh connection twice a second (p50, max). After 12 s the slow clients
close; the settled RSS is read 3 s later.

Usage: scripts/bench-slow-clients.py BINARY [COUNT ...] [--max-connections N]
(defaults: 1000 5000 10000; --max-connections sets `web.max_connections`, e.g. 100000 for
"no cap"). Prints one line per count. Loopback only; every wait is bounded.
"""
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nAccept: */*\r\n\r\n"
HOLD_SECONDS = 12


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(hard, 65536), 1 << 20)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def slow_client(port, stop):
    try:
        _, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, asyncio.TimeoutError):
        return "refused"
    try:
        for i in range(len(REQUEST)):
            if stop.is_set():
                break
            w.write(REQUEST[i : i + 1])
            await w.drain()
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
        return "held"
    except (ConnectionError, OSError):
        return "closed by server"
    finally:
        w.close()


async def timed_get(port):
    loop = asyncio.get_running_loop()
    t = time.perf_counter()

    def get():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            r.read()

    try:
        await loop.run_in_executor(None, get)
        return (time.perf_counter() - t) * 1000
    except Exception:
        return None


async def round_(pid, port, count):
    stop = asyncio.Event()
    peak = rss_mib(pid)
    clients = []
    for i in range(count):
        clients.append(asyncio.create_task(slow_client(port, stop)))
        if i % 200 == 199:
            await asyncio.sleep(0.01)
    latencies, failed = [], 0
    end = time.monotonic() + HOLD_SECONDS
    next_get = time.monotonic() + 1
    while time.monotonic() < end:
        peak = max(peak, rss_mib(pid))
        if time.monotonic() >= next_get:
            ms = await timed_get(port)
            if ms is None:
                failed += 1
            else:
                latencies.append(ms)
            next_get += 0.5
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*clients, return_exceptions=True), 30)
    await asyncio.sleep(3)
    settled = rss_mib(pid)
    p50 = statistics.median(latencies) if latencies else float("nan")
    worst = max(latencies) if latencies else float("nan")
    return peak, settled, p50, worst, len(latencies), failed


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    binary = args.pop(0)
    cap = None
    if "--max-connections" in args:
        i = args.index("--max-connections")
        cap = args[i + 1]
        del args[i : i + 2]
    counts = [int(a) for a in args] or [1000, 5000, 10000]
    raise_fd_limit()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        config = os.path.join(work, "config.yaml")
        with open(config, "w") as f:
            f.write(f"listen: 127.0.0.1:{port}\ninterval: 60s\n")
            f.write(f"kubernetes: {{ manifests: [{os.path.join(root, 'examples/manifests')}] }}\n")
            if cap:
                f.write(f"web: {{ max_connections: {cap} }}\n")
        proc = subprocess.Popen(
            [binary, "serve", "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1).read()
                    break
                except Exception:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        sys.exit("the exporter did not become ready")
                    time.sleep(0.1)
            print(f"idle RSS {rss_mib(proc.pid):.1f} MiB (web.max_connections: {cap or 'default'})")
            for n in counts:
                peak, settled, p50, worst, ok, failed = asyncio.run(round_(proc.pid, port, n))
                print(
                    f"{n:>6} slow clients: RSS peak {peak:6.1f} MiB, settled {settled:6.1f} MiB; "
                    f"GET /metrics p50 {p50:6.1f} ms, max {worst:7.1f} ms ({ok} answered, {failed} failed)"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
