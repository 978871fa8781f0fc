"""A small, bounded HTTP load generator for loopback benchmarks (used when ``wrk`` is not installed).

Each client process opens a connection per request (gunicorn's sync workers close after every
response), sends a prebuilt GET and reads to the end. It runs for a fixed time and prints one
JSON line: request count, errors and latencies. Only 127.0.0.1 is accepted.

    python benchmarks/loadgen.py --port 8001 --path /bench/trivial/ --seconds 5 --clients 4
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time


def _one_client(port: int, path: str, seconds: float, start_at: float, cookie: str) -> dict:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        f"{f'Cookie: {cookie}' + chr(13) + chr(10) if cookie else ''}\r\n"
    ).encode()
    while time.time() < start_at:
        time.sleep(0.001)
    latencies: list[float] = []
    errors = 0
    statuses: dict[str, int] = {}
    end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                chunks = []
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
            head = b"".join(chunks)[:12]
            status = head[9:12].decode("ascii", "replace")
            statuses[status] = statuses.get(status, 0) + 1
            if status != "200":
                errors += 1
                continue
        except OSError:
            errors += 1
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
    return {"ok": len(latencies), "errors": errors, "statuses": statuses, "latencies": latencies}


def run_load(*, port: int, path: str, seconds: float, clients: int, cookie: str = "") -> dict:
    """Run ``clients`` processes against 127.0.0.1:``port`` for ``seconds``; combined figures."""
    start_at = time.time() + 0.5
    procs = [
        subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                __file__,
                "--port",
                str(port),
                "--path",
                path,
                "--seconds",
                str(seconds),
                "--start-at",
                repr(start_at),
                "--cookie",
                cookie,
                "--single",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        results.append(json.loads(out))
    latencies = sorted(x for r in results for x in r["latencies"])
    ok = sum(r["ok"] for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")

    return {
        "rps": ok / seconds,
        "ok": ok,
        "errors": sum(r["errors"] for r in results),
        "statuses": statuses,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--cookie", default="")
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 < args.seconds <= 120:
        parser.error("--seconds must be in (0, 120]: the load is bounded")
    if args.single:
        print(json.dumps(_one_client(args.port, args.path, args.seconds, args.start_at, args.cookie)))
    else:
        result = run_load(
            port=args.port, path=args.path, seconds=args.seconds, clients=args.clients, cookie=args.cookie
        )
        print(json.dumps(result))


if __name__ == "__main__":
    main()
