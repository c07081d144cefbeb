"""Benchmark: task completions over HTTP, in process and against a real server.

    python bench/throughput.py inprocess [--cases 100] [--postgres URL]
    python bench/throughput.py load --server waitress [--threads 8] [--clients 4,8,16] [--seconds 8]
    python bench/throughput.py load --server gunicorn --postgres URL [--workers 1,2,4] [--clients 4,8,16,32]
                                    [--worker-class sync|gthread] [--threads 4] [--client loop|threads]

Both drive the 4-user-task process of tests/data/four_steps.bpmn (triage, diagnose, an approval
gate, implement), each step completed by the person whose group the task is for.

`inprocess` alternates, step by step in one thread, three sides over their own databases:

* floor: raw SpiffWorkflow with one SQLite read and one write per step (bench/engine.py's floor);
* service: `services.complete_task` and the commit, as a request does it (bench/engine.py's opsgate);
* http: `POST /api/v1/tasks/ID/complete` with a bearer token through Flask's test client, so the
  whole request (WSGI, authentication, the action, the commit, the JSON answer) runs in this
  thread; the next task's id is read from the answer, as a client does.

Each step is timed by wall clock and by the thread's CPU clock (`time.thread_time`); the ratios
of the CPU medians are the figures to compare (the goal of issue #14: http within 2x of service).
With --postgres, service and http also run on PostgreSQL (their CPU then leaves out the server's).

`load` starts a real server on 127.0.0.1 (waitress through `opsgate serve` on a SQLite file, or
gunicorn on PostgreSQL configured as webui/gunicorn_conf.py says for production), opens cases
through the engine beforehand, and lets N clients complete their cases' tasks one request after
another for a fixed time, after a warm-up. The clients (`--client loop`, the default) are one thread
driving N connections through `selectors`, sending the bytes http.client sends and keeping each
connection while the server keeps it alive; `--client threads` is the bench before 2026-11-30 (a
thread with an http.client connection per client, which cost this process 1.5-3x the CPU). It
reports completions per second, latency p50/p95/p99, the server's CPU per request (the server
process and its workers, from /proc), PostgreSQL's CPU per request (the backends connected to the
bench database, from /proc: the WAL writer and checkpointer, shared with everything else on the
server, are not counted), the clients' CPU per request (this process, getrusage), and the load
average before and after each run. The clients share the 2 cores with the server and PostgreSQL:
their CPU is part of what limits the rate, so it is reported apart.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# bench/engine.py is named like the package it measures: keep this folder off the import path.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import select

from engine import db
from engine.cases import services
from engine.people import tokens, users
from engine.processes import catalog, deployment, specs
from models import HumanTask

_spec = importlib.util.spec_from_file_location("bench_engine", Path(__file__).with_name("engine.py"))
assert _spec is not None and _spec.loader is not None
bench_engine = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_engine)

BPMN = ROOT / "tests" / "data" / "four_steps.bpmn"
STEPS = bench_engine.STEPS
START_DATA = {"title": "t", "urgent": True, "system": "erp"}
PEOPLE = (("req", []), ("desk", ["service_desk"]), ("eng", ["engineer"]), ("eng2", ["engineer"]),
          ("cm", ["change_manager"]))


def prepare(url: str) -> dict[str, str]:
    """An empty, migrated database with the process deployed and the people; their API tokens."""
    engine = bench_engine.fresh_engine(url)
    maker = db.make_sessionmaker(engine)
    with maker.begin() as s:
        deployment.deploy(s, [(BPMN.name, BPMN.read_bytes())], actor=None)
        for name, groups in PEOPLE:
            users.create_user(s, name, groups, actor=None)
        found = {name: tokens.create_token(s, name, actor=None) for name, _ in PEOPLE}
    engine.dispose()
    return found


def open_cases(url: str, count: int) -> list[str]:
    """Open cases through the engine; return each one's first ready task id."""
    engine = db.make_engine(url)
    maker = db.make_sessionmaker(engine)
    ids = []
    with maker() as s:
        requester = users.get_user(s, "req")
        for _ in range(count):
            case = services.start_case(s, "four_steps", dict(START_DATA), actor=requester)
            s.commit()
            ids.append(case.id)
        first = dict(s.execute(select(HumanTask.case_id, HumanTask.id)
                               .where(HumanTask.case_id.in_(ids), HumanTask.state == "ready")).all())
    engine.dispose()
    return [first[i] for i in ids]


# ---- in process -------------------------------------------------------------------------------

class Http:
    """Completions through the app's WSGI stack in this thread (Flask's test client)."""

    def __init__(self, url: str) -> None:
        from webui import create_app

        self.url = url
        self.headers = {name: {"Authorization": f"Bearer {t}"} for name, t in prepare(url).items()}
        self.app = create_app({"TESTING": False, "SECRET_KEY": "bench", "START_WORKER": False,
                               "DATABASE_URL": url})
        self.client = self.app.test_client()
        self.next_task: str | None = None

    def start(self) -> None:
        response = self.client.post("/api/v1/cases", headers=self.headers["req"],
                                    json={"process": "four_steps", "title": "t", "data": START_DATA})
        assert response.status_code == 201, response.get_data(as_text=True)
        self.next_task = response.get_json()["open_tasks"][0]["id"]

    def step(self, data: dict, who: str) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.thread_time()
        response = self.client.post(f"/api/v1/tasks/{self.next_task}/complete", headers=self.headers[who],
                                    json={"data": data})
        body = response.get_json()
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
        assert response.status_code == 200, body
        self.next_task = body["open_tasks"][0]["id"] if body["open_tasks"] else None
        return wall, cpu


def inprocess(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="opsgate-bench-http-"))
    service = {"service_sqlite": bench_engine.Opsgate(f"sqlite:///{tmp}/service.db")}
    http = {"http_sqlite": Http(f"sqlite:///{tmp}/http.db")}
    if args.postgres:
        service["service_postgres"] = bench_engine.Opsgate(args.postgres)
        http["http_postgres"] = Http(args.postgres2 or args.postgres + "_http")
    with service["service_sqlite"].maker() as s:
        loaded = specs.load(s, catalog.get_definition(s, "four_steps"))
    floor = bench_engine.Floor(loaded, str(tmp / "floor.db"))

    def run(cases: int) -> dict[str, list[tuple[float, float]]]:
        times: dict[str, list[tuple[float, float]]] = {"floor": [], **{n: [] for n in (*service, *http)}}
        for _ in range(cases):
            fid = floor.start()
            sids = {n: side.start() for n, side in service.items()}
            for side in http.values():
                side.start()
            for _element, data, who in STEPS:
                times["floor"].append(floor.step(fid, data))
                for n, side in service.items():
                    times[n].append(side.step(side.ready_task(sids[n]), data, who))
                for n, hside in http.items():
                    times[n].append(hside.step(data, who))
        return times

    load_before = os.getloadavg()
    run(max(5, args.cases // 10))  # warm-up
    times = run(args.cases)
    medians = {n: (statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts)) for n, ts in times.items()}
    result: dict[str, Any] = {"mode": "inprocess", "cases": args.cases, "steps_per_side": len(times["floor"]),
                              "load_average_before": [round(x, 2) for x in load_before],
                              "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    for n, (wall, cpu) in medians.items():
        result[f"{n}_ms"] = {"wall": round(wall * 1000, 3), "cpu": round(cpu * 1000, 3)}
    for dialect in ("sqlite", "postgres"):
        if f"http_{dialect}" in medians:
            h, s_ = medians[f"http_{dialect}"], medians[f"service_{dialect}"]
            result[f"http_to_service_{dialect}"] = {"wall": round(h[0] / s_[0], 2), "cpu": round(h[1] / s_[1], 2)}
            result[f"http_to_floor_{dialect}"] = {"wall": round(h[0] / medians["floor"][0], 2),
                                                  "cpu": round(h[1] / medians["floor"][1], 2)}
            result[f"service_to_floor_{dialect}"] = {"wall": round(s_[0] / medians["floor"][0], 2),
                                                     "cpu": round(s_[1] / medians["floor"][1], 2)}
    return result


# ---- a real server under load ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (/proc/PID/stat), the gone ones left out."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def backend_pids(url: str) -> list[int]:
    """PostgreSQL backends connected to this URL's database, this script's own left out."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()").fetchall()
    return [r[0] for r in rows]


class Server:
    def __init__(self, kind: str, url: str, workers: int, threads: int | None, tmp: Path,
                 worker_class: str | None = None) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPSGATE_INSTANCE": str(tmp / "instance"),
               "OPSGATE_SECRET_KEY": "bench", "OPSGATE_DATABASE_URL": url}
        if kind == "waitress":
            command = [sys.executable, "-c", "from webui.cli.base import main; main()", "--database-url", url,
                       "serve", "--port", str(self.port), "--threads", str(threads or 8)]
        else:
            command = [sys.executable, "-m", "gunicorn", "-c", "python:webui.gunicorn_conf", "-w", str(workers),
                       "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "5", "--log-level", "warning",
                       *(["--worker-class", worker_class] if worker_class else []),
                       *(["--threads", str(threads or 4)] if worker_class == "gthread" else []),
                       "webui:create_app()"]
        self.log = (tmp / f"{kind}-{workers}.log").open("wb")
        self.process = subprocess.Popen(command, cwd=tmp, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(1200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2).close()
                break
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(f"the server did not start: see {self.log.name}") from None
                time.sleep(0.1)

    def pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.log.close()


def request_bytes(port: int, task: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes http.client sends for `conn.request("POST", path, body=body, headers=headers)`."""
    lines = [f"POST /api/v1/tasks/{task}/complete HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept-Encoding: identity",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Client:
    """One client of the event loop: its cases, the request in flight and its connection."""

    def __init__(self, queue: list[str]) -> None:
        self.queue = queue
        self.sock: socket.socket | None = None
        self.task: str | None = None
        self.step = 0
        self.started = 0.0
        self.buffer = b""


def drive(port: int, headers: dict[str, dict[str, str]], queues: list[list[str]], seconds: float,
          ) -> tuple[list[float], int, float]:
    """Clients complete their cases' tasks for `seconds`; return latencies, errors, elapsed.

    One thread drives every client through `selectors` (each client one request at a time, as a
    thread with http.client would): the same bytes http.client sends, the connection kept while the
    server keeps it and opened again when it answers `Connection: close`, the answer's JSON read for
    the next task. Sixteen threads of http.client cost this process several times the CPU, on
    the cores the server is measured on."""
    selector = selectors.DefaultSelector()
    bodies = [json.dumps({"data": data}).encode() for _element, data, _who in STEPS]
    sent_headers = {who: {**headers[who], "Content-Type": "application/json"} for _e, _d, who in STEPS}
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter()
    deadline = began + seconds

    def send(client: _Client) -> bool:
        while client.task is None:
            if not client.queue or time.perf_counter() >= deadline:
                return False
            client.task, client.step = client.queue.pop(), 0
        client.started = time.perf_counter()
        if client.sock is None:
            client.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            selector.register(client.sock, selectors.EVENT_READ, client)
        _element, _data, who = STEPS[client.step]
        client.sock.sendall(request_bytes(port, client.task, bodies[client.step], sent_headers[who]))
        client.buffer = b""
        return True

    def hang_up(client: _Client) -> None:
        if client.sock is not None:
            selector.unregister(client.sock)
            client.sock.close()
            client.sock = None

    active = sum(send(c) for c in (_Client(q) for q in queues))
    while active:
        for key, _mask in selector.select(timeout=60):
            client: _Client = key.data
            assert client.sock is not None
            chunk = client.sock.recv(65536)
            client.buffer += chunk
            head, found, body = client.buffer.partition(b"\r\n\r\n")
            if chunk and not found:
                continue
            fields = head.decode("latin-1").lower().split("\r\n")
            length = next((int(f[15:]) for f in fields if f.startswith("content-length:")), None)
            if chunk and (length is None or len(body) < length):
                continue  # more to come (without a length, the answer ends when the connection does)
            latencies.append(time.perf_counter() - client.started)
            status = int(fields[0].split()[1]) if fields[0] else 0
            if "connection: close" in fields or not chunk:
                hang_up(client)
            if status != 200:
                errors += 1
                client.task = None
            else:
                open_tasks = json.loads(body[:length])["open_tasks"]
                client.task = open_tasks[0]["id"] if open_tasks else None
                client.step += 1
            if not send(client):
                hang_up(client)
                active -= 1
    selector.close()
    return latencies, errors, time.perf_counter() - began


def drive_threads(port: int, headers: dict[str, dict[str, str]], queues: list[list[str]], seconds: float,
                  ) -> tuple[list[float], int, float]:
    """drive() with one thread and one http.client connection per client (--client threads)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(len(queues) + 1)
    deadline = [0.0]

    def client(queue: list[str]) -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        failed = 0
        start_gate.wait()
        while queue and time.perf_counter() < deadline[0]:
            task: str | None = queue.pop()
            step = 0
            while task is not None and time.perf_counter() < deadline[0]:
                _element, data, who = STEPS[step]
                body = json.dumps({"data": data})
                t0 = time.perf_counter()
                conn.request("POST", f"/api/v1/tasks/{task}/complete", body=body,
                             headers={**headers[who], "Content-Type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
                mine.append(time.perf_counter() - t0)
                if response.status != 200:
                    failed += 1
                    break
                open_tasks = json.loads(payload)["open_tasks"]
                task = open_tasks[0]["id"] if open_tasks else None
                step += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client, args=(q,)) for q in queues]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.perf_counter() - began


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def server_kind(args: argparse.Namespace) -> dict[str, Any]:
    """The worker class and threads a run's server had."""
    if args.server == "waitress":
        return {"worker_class": "waitress", "threads": args.threads or 8}
    worker_class = args.worker_class or "sync"  # webui/gunicorn_conf.py's (gunicorn's default)
    return {"worker_class": worker_class, "threads": (args.threads or 4) if worker_class == "gthread" else 1}


def load(args: argparse.Namespace) -> dict[str, Any]:
    if args.server == "gunicorn" and not args.postgres:
        raise SystemExit("gunicorn runs on PostgreSQL here: give --postgres URL")
    tmp = Path(tempfile.mkdtemp(prefix="opsgate-bench-load-"))
    url = args.postgres if args.server == "gunicorn" else f"sqlite:///{tmp}/opsgate.db"
    workers_list = [int(w) for w in args.workers.split(",")] if args.server == "gunicorn" else [1]
    clients_list = [int(c) for c in args.clients.split(",")]
    runs = []
    for workers in workers_list:
        found = prepare(url)
        headers = {name: {"Authorization": f"Bearer {t}"} for name, t in found.items()}
        server = Server(args.server, url, workers, args.threads, tmp, args.worker_class)
        try:
            for clients in clients_list:
                # Enough cases for the run at up to --rate completions a second, 4 per case.
                wanted = clients + int(args.rate * (args.seconds + args.warmup) / len(STEPS))
                firsts = open_cases(url, wanted)
                queues = [firsts[i::clients] for i in range(clients)]
                run_clients = drive if args.client == "loop" else drive_threads
                run_clients(server.port, headers, queues, args.warmup)  # warm-up: connections, caches
                db_pids = backend_pids(url) if url.startswith("postgresql") else []
                app_pids = server.pids()
                load_before = os.getloadavg()
                app0, db0 = cpu_seconds(app_pids), {pid: cpu_seconds([pid]) for pid in db_pids}
                client0 = resource.getrusage(resource.RUSAGE_SELF)
                latencies, errors, elapsed = run_clients(server.port, headers, queues, args.seconds)
                client1 = resource.getrusage(resource.RUSAGE_SELF)
                app1 = cpu_seconds(app_pids)
                client_cpu = (client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime)
                # A pool may open connections during the run (threaded workers): their backends
                # count from zero; a backend gone meanwhile is lost (not seen: the pools keep theirs).
                db_after = backend_pids(url) if url.startswith("postgresql") else []
                db1 = sum(cpu_seconds([pid]) - db0.get(pid, 0.0) for pid in db_after)
                db_pids = db_after
                done = len(latencies)
                run = {"server": args.server, "workers": workers, **server_kind(args),
                       "clients": clients, "client": args.client, "completions": done,
                       "errors": errors, "seconds": round(elapsed, 2),
                       "per_second": round(done / elapsed, 1) if elapsed else 0.0,
                       "p50_ms": round(percentile(latencies, 50) * 1000, 1) if done else None,
                       "p95_ms": round(percentile(latencies, 95) * 1000, 1) if done else None,
                       "p99_ms": round(percentile(latencies, 99) * 1000, 1) if done else None,
                       "app_cpu_ms_per_request": round((app1 - app0) * 1000 / done, 2) if done else None,
                       "db_cpu_ms_per_request": round(db1 * 1000 / done, 2) if done and db_pids else None,
                       "client_cpu_ms_per_request": round(client_cpu * 1000 / done, 2) if done else None,
                       "load_average_before": [round(x, 2) for x in load_before],
                       "load_average_after": [round(x, 2) for x in os.getloadavg()]}
                runs.append(run)
                print(json.dumps(run), flush=True)
        finally:
            server.stop()
    return {"mode": "load", "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    one = sub.add_parser("inprocess")
    one.add_argument("--cases", type=int, default=100)
    one.add_argument("--postgres", default=None, help="also run service and http on PostgreSQL")
    one.add_argument("--postgres2", default=None,
                     help="a second PostgreSQL database for the http side (default: the first's name + _http)")
    many = sub.add_parser("load")
    many.add_argument("--server", choices=("waitress", "gunicorn"), default="waitress")
    many.add_argument("--postgres", default=None)
    many.add_argument("--workers", default="1,2,4")
    many.add_argument("--threads", type=int, default=None,
                      help="waitress threads (8), or gunicorn's with --worker-class gthread (4)")
    many.add_argument("--worker-class", default=None,
                      help="gunicorn worker class (sync, gthread); default: webui/gunicorn_conf.py's, sync")
    many.add_argument("--clients", default="4,8,16")
    many.add_argument("--client", choices=("loop", "threads"), default="loop",
                      help="loop: one thread drives every client (selectors); threads: a thread and an "
                           "http.client connection per client (the bench before 2026-11-30)")
    many.add_argument("--seconds", type=float, default=8.0)
    many.add_argument("--warmup", type=float, default=2.0)
    many.add_argument("--rate", type=float, default=400.0,
                      help="completions a second to open cases for (a run that outpaces it stops early)")
    args = parser.parse_args()
    result = inprocess(args) if args.mode == "inprocess" else load(args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
