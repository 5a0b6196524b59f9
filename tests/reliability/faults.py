#!/usr/bin/env python3
"""The reliability suite's long run (issue 13, docs/RELIABILITY.md): faults injected into a
running `wagegate serve` while a partner pushes, on SQLite and on PostgreSQL, loopback only,
every loop bounded. Counts, for each backend, what was acknowledged (202), lost and
duplicated afterwards, and what the webhook receiver got.

Faults, in this order, on one database per backend:
  1. webhook receiver down for an hour of simulated time (the webhook backoff settings are
     the defaults divided by TIME_SCALE, so an hour of outage takes 3600/TIME_SCALE s),
     while the demo world's files are pushed and reconciled; SIGKILL during the reconcile
     that follows, and SIGKILL again while the receiver (slow when back up) is being sent
     the backlog;
  2. SIGKILL during ingest, KILLS times, while four partner connections push continuously;
  3. (PostgreSQL) the database restarted (`pg_ctl restart -m fast`) during the pushes;
  4. full disk: SQLite's directory on a small tmpfs, PostgreSQL's data directory on a small
     tmpfs (its own cluster), filled during the pushes, then freed.
Then the pushes stop and the gateway settles. Checks: every acknowledged file stored once
and processed, the records of the acknowledged files each stored once (the sum of their
`records_count`), every webhook event delivered, none dead, an event delivered again only
under its own idempotency key (at-least-once across a kill), per-finding delivery order.

Needs root (tmpfs mounts, running PostgreSQL as `postgres`), PostgreSQL's server binaries
(PG_BIN, default the newest /usr/lib/postgresql/*/bin), sqlite3, and a wagegate binary
(WAGEGATE_BIN, default $CARGO_TARGET_DIR/release/wagegate). Its own PostgreSQL cluster runs
on PG_PORT (55439): the shared server of other tests is never restarted or filled.

  tests/reliability/faults.py [WORK_DIR]        # BACKENDS=sqlite,postgres KILLS=3 TIME_SCALE=60
"""

import hashlib
import hmac
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = sys.argv[1] if len(sys.argv) > 1 else "/tmp/wagegate-faults"
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.environ.get("WAGEGATE_BIN", os.path.join(TARGET, "release", "wagegate"))
BACKENDS = os.environ.get("BACKENDS", "sqlite,postgres").split(",")
KILLS = int(os.environ.get("KILLS", "3"))
TIME_SCALE = int(os.environ.get("TIME_SCALE", "60"))
PG_PORT = int(os.environ.get("PG_PORT", "55439"))
SECRET = "faults-webhook-secret"
ACCOUNT = "1402023009000012345"  # the demo world's ICBC dedicated account
ENTRIES = 4


def log(msg):
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", flush=True)


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def wait_for(what, cond, timeout, every=0.2):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise SystemExit(f"FAIL: {what} not within {timeout} s")
        time.sleep(every)


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


# ---------------------------------------------------------------- the webhook receiver
class Receiver:
    """Verifies each event's signature and records (idempotency key, finding, time)."""

    def __init__(self):
        self.up = False
        self.slow_s = 0.0
        self.deliveries = []
        self.refused = 0
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not receiver.up:
                    with receiver.lock:
                        receiver.refused += 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                sig = self.headers.get("X-Wagegate-Signature", "")
                good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(sig, good):
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if receiver.slow_s:
                    time.sleep(receiver.slow_s)
                key = self.headers.get("X-Wagegate-Idempotency-Key", "")
                with receiver.lock:
                    receiver.deliveries.append((key, time.time()))
                self.send_response(204)
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys(self):
        with self.lock:
            return list(self.deliveries)


# ---------------------------------------------------------------- PostgreSQL (own cluster)
def pg_bin():
    if os.environ.get("PG_BIN"):
        return os.environ["PG_BIN"]
    versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v.split(".")[0]))
    return f"/usr/lib/postgresql/{versions[-1]}/bin"


class Postgres:
    def __init__(self, mount, size_mb):
        self.mount = mount
        self.data = os.path.join(mount, "data")
        os.makedirs(mount, exist_ok=True)
        sh("mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", mount)
        sh("chown", "postgres:postgres", mount)
        self.sock = os.path.join(WORK, "pgsock")
        os.makedirs(self.sock, exist_ok=True)
        sh("chown", "postgres:postgres", self.sock)
        self.log = os.path.join(self.sock, "postgres.log")
        self.su(f"{pg_bin()}/initdb -A trust -U postgres -D {self.data}")
        self.start()
        self.url = f"postgres://postgres@127.0.0.1:{PG_PORT}/wagegate"
        sh("psql", f"postgres://postgres@127.0.0.1:{PG_PORT}/postgres", "-qc", "CREATE DATABASE wagegate")

    def su(self, cmd):
        return subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd], capture_output=True, text=True)

    def ctl(self, action, *extra):
        return self.su(
            f"{pg_bin()}/pg_ctl -D {self.data} -l {self.log} -w -t 60 "
            f"-o '-p {PG_PORT} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=on' {action} {' '.join(extra)}"
        )

    def start(self):
        r = self.ctl("start")
        if r.returncode != 0 and "another server might be running" not in r.stderr:
            raise SystemExit(f"FAIL: PostgreSQL did not start: {r.stdout} {r.stderr}")

    def running(self):
        return subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(PG_PORT)]
        ).returncode == 0

    def stop(self):
        self.ctl("stop", "-m", "immediate")
        subprocess.run(["umount", "-l", self.mount])


# ---------------------------------------------------------------- the gateway
class Gateway:
    def __init__(self, name, db_url, hook):
        self.name, self.db_url, self.hook = name, db_url, hook
        self.port = free_port()
        self.proc = None
        self.starts = 0

    def env(self):
        e = dict(os.environ)
        e.update(
            {
                "WAGEGATE__DATABASE__URL": self.db_url,
                "WAGEGATE__WEBHOOKS__URL": self.hook,
                "WAGEGATE__WEBHOOKS__SECRET": SECRET,
                # The defaults (500 ms doubling to 10 min, for 24 h) divided by TIME_SCALE.
                "WAGEGATE__WEBHOOKS__INITIAL_BACKOFF_MS": str(max(1, 500 // TIME_SCALE)),
                "WAGEGATE__WEBHOOKS__MAX_BACKOFF_MS": str(600000 // TIME_SCALE),
                "WAGEGATE__WEBHOOKS__RETRY_FOR_MS": str(86400000 // TIME_SCALE),
                "WAGEGATE__WEBHOOKS__TIMEOUT_MS": "5000",
                "WAGEGATE__RECONCILE__DEBOUNCE_MS": "300",
                "WAGEGATE__SERVER__RATE_PER_SECOND": "100000",
                "WAGEGATE__SERVER__RATE_BURST": "100000",
                "WAGEGATE__LOG__FILTER": "warn",
            }
        )
        return e

    def start(self):
        self.starts += 1
        out = open(os.path.join(WORK, f"{self.name}-{self.starts}.log"), "w")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--dev-pki", os.path.join(WORK, "pki"), "--listen", f"127.0.0.1:{self.port}"],
            env=self.env(), stdout=subprocess.DEVNULL, stderr=out, cwd=WORK,
        )
        wait_for(f"{self.name} listening", lambda: self.get("/healthz")[0] == 200, 60)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def request(self, method, path, body=None, stem="bank", headers=None, timeout=20):
        try:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=tls(stem))
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            c.close()
            return r.status, data, dict(r.getheaders())
        except (OSError, http.client.HTTPException):
            return 0, b"", {}

    def get(self, path, stem="bank"):
        return self.request("GET", path, stem=stem)


_tls = {}


def tls(stem):
    if stem not in _tls:
        pki = os.path.join(WORK, "pki")
        ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
        ctx.load_cert_chain(os.path.join(pki, f"{stem}.pem"), os.path.join(pki, f"{stem}.key"))
        _tls[stem] = ctx
    return _tls[stem]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---------------------------------------------------------------- the partner's pushes
def mt940(run, n):
    """A small MT940 statement of the demo ICBC account, unique to (run, n), ENTRIES credits."""
    lines = [
        "{1:F01ICBKCNBJXXXX0000000000}{2:O9401800260930ICBKCNBJXXXX00000000002609301800N}{4:",
        f":20:FLT{run}{n:07}",
        f":25:{ACCOUNT}",
        f":28C:{n % 99999 + 1:05}/1",
        ":60F:C260929CNY0,00",
    ]
    for i in range(ENTRIES):
        lines.append(f":61:2609300930C10,00NTRFF{run}{n:07}{i}//B{n:07}{i}")
        lines.append(f":86:FAULT RUN {run} FILE {n} ENTRY {i}")
    lines.append(f":62F:C260930CNY{ENTRIES * 10},00")
    return ("\r\n".join(lines) + "\r\n-}").encode()


class Pusher:
    """Four connections pushing distinct files back to back; records what was acknowledged."""

    def __init__(self, gw, run):
        self.gw, self.run = gw, run
        self.acked = {}
        self.statuses = {}
        self.retry_after_503 = 0
        self.n = 0
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(4)]

    def start(self):
        for t in self.threads:
            t.start()

    def loop(self):
        while not self.stop_flag.is_set():
            with self.lock:
                n = self.n
                self.n += 1
            status, data, headers = self.gw.request(
                "POST", "/v1/files", body=mt940(self.run, n),
                headers={"X-Wagegate-File-Name": f"fault-{n}.sta"}, timeout=30,
            )
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 503 and any(k.lower() == "retry-after" for k in headers):
                    self.retry_after_503 += 1
                if status == 202:
                    self.acked[json.loads(data)["id"]] = n
            if status != 202:
                time.sleep(0.1)
            else:
                time.sleep(0.02)

    def acks(self):
        with self.lock:
            return len(self.acked)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join()


# ---------------------------------------------------------------- the database's view
def query(url, sql):
    if url.startswith("sqlite://"):
        out = sh("sqlite3", "-separator", "|", url[len("sqlite://"):], sql)
    else:
        out = sh("psql", url, "-qtAF|", "-c", sql)
    return [line.split("|") for line in out.splitlines() if line.strip()]


def scalar(url, sql):
    try:
        return int(query(url, sql)[0][0])
    except (subprocess.CalledProcessError, IndexError, ValueError):
        return -1


def settle(url, receiver, what, timeout=900):
    def done():
        received = scalar(url, "SELECT COUNT(*) FROM raw_files WHERE status = 'received'")
        dirty = scalar(url, "SELECT COUNT(*) FROM dirty_projects")
        pending = scalar(url, "SELECT COUNT(*) FROM webhook_outbox WHERE status = 'pending'")
        events = scalar(url, "SELECT COUNT(*) FROM webhook_outbox")
        keys = {k for k, _ in receiver.keys()}
        return received == 0 and dirty == 0 and pending == 0 and len(keys) >= events

    wait_for(f"{what} settled", done, timeout, every=1)


def demo_world():
    files = []
    base = os.path.join(WORK, "demo", "files", "bank")
    for partner in sorted(os.listdir(base)):
        if partner == "picc-gz":
            continue
        for name in sorted(os.listdir(os.path.join(base, partner))):
            if name.startswith("guarantee"):
                continue
            files.append((name, open(os.path.join(base, partner, name), "rb").read()))
    return files


# ---------------------------------------------------------------- one backend
def run_backend(backend):
    log(f"== {backend}: load average {loadavg()}")
    receiver = Receiver()
    pg = None
    disk = os.path.join(WORK, f"{backend}-disk")
    if backend == "sqlite":
        os.makedirs(disk, exist_ok=True)
        sh("mount", "-t", "tmpfs", "-o", "size=192m", "tmpfs", disk)
        url = f"sqlite://{disk}/wagegate.db"
    else:
        pg = Postgres(disk, 320)
        url = pg.url
    result = {"backend": backend, "faults": []}
    gw = Gateway(backend, url, receiver.url)
    try:
        env = gw.env()
        subprocess.run([BIN, "import"] + sorted(
            os.path.join(WORK, "demo", "files", "registry", f)
            for f in os.listdir(os.path.join(WORK, "demo", "files", "registry"))
        ), env=env, check=True, capture_output=True, cwd=WORK)
        gw.start()

        # 1. receiver down an hour (simulated), kills during reconcile and delivery.
        hour_s = 3600 / TIME_SCALE
        down_at = time.time()
        for name, body in demo_world():
            s, _, _ = gw.request("POST", "/v1/files", body=body, headers={"X-Wagegate-File-Name": name})
            assert s == 202, (name, s)
        wait_for("a project waiting for its reconcile",
                 lambda: scalar(url, "SELECT COUNT(*) FROM dirty_projects") > 0
                 or scalar(url, "SELECT COUNT(*) FROM webhook_outbox") > 0, 60, every=0.05)
        gw.kill()
        result["faults"].append("SIGKILL during the reconcile after the demo world's files")
        gw.start()
        wait_for("the webhook events recorded", lambda: scalar(
            url, "SELECT COUNT(*) FROM webhook_outbox WHERE attempts > 0") > 0, 120)
        time.sleep(max(0.0, down_at + hour_s - time.time()))
        events = scalar(url, "SELECT COUNT(*) FROM webhook_outbox")
        dead_during = scalar(url, "SELECT COUNT(*) FROM webhook_outbox WHERE status = 'dead'")
        max_attempts = scalar(url, "SELECT MAX(attempts) FROM webhook_outbox")
        log(f"receiver down {hour_s:.0f} s (an hour at 1/{TIME_SCALE}): {events} events, "
            f"{receiver.refused} attempts refused, max {max_attempts} attempts per event, {dead_during} dead")
        receiver.slow_s = 0.3
        receiver.up = True
        killed_in_delivery = time.time()
        wait_for("a delivery after the outage", lambda: len(receiver.keys()) > 0, 120, every=0.05)
        gw.kill()
        result["faults"].append(f"webhook receiver down {hour_s:.0f} s = 1 h simulated ({events} events waiting)")
        result["faults"].append("SIGKILL while the backlog was being delivered")
        gw.start()
        receiver.slow_s = 0.0
        settle(url, receiver, "the demo world")

        # 2. kills during ingest while pushing.
        pusher = Pusher(gw, backend[:2].upper())
        pusher.start()
        wait_for("first pushes", lambda: pusher.acks() > 50, 60)
        for k in range(KILLS):
            before = pusher.acks()
            wait_for("pushes between kills", lambda: pusher.acks() > before + 100, 120)
            gw.kill()
            result["faults"].append(f"SIGKILL during ingest #{k + 1} ({pusher.acks()} acknowledged so far)")
            gw.start()

        # 3. PostgreSQL restart.
        if pg:
            before = pusher.acks()
            wait_for("pushes before the restart", lambda: pusher.acks() > before + 100, 120)
            r = pg.ctl("restart", "-m", "fast")
            assert r.returncode == 0, r.stderr
            result["faults"].append("PostgreSQL restarted (pg_ctl restart -m fast) during pushes")
            after = pusher.acks()
            wait_for("pushes acknowledged after the restart", lambda: pusher.acks() > after + 50, 120)

        # 4. full disk, then space freed.
        before = pusher.acks()
        wait_for("pushes before the disk fills", lambda: pusher.acks() > before + 50, 120)
        filler = os.path.join(disk, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)
        full_at = time.time()
        saw_503 = wait_for("503 answers while the disk is full",
                           lambda: pusher.statuses.get(503, 0) > 0 or (pg and not pg.running()), 120)
        ready, _, _ = gw.get("/readyz")
        time.sleep(3)
        os.remove(filler)
        if pg:
            # PostgreSQL stops when it cannot write its WAL; an operator starts it again.
            if not pg.running():
                pg.start()
        freed_at = time.time()
        after = pusher.acks()
        wait_for("pushes acknowledged once space is back",
                 lambda: pusher.acks() > after + 50, 180)
        result["faults"].append(
            f"full disk ({'SQLite directory' if not pg else 'PostgreSQL data directory'} on a 192/320 MB tmpfs) "
            f"for {freed_at - full_at:.0f} s: /readyz {ready} while full; recovered without a gateway restart")
        pusher.stop()
        settle(url, receiver, f"{backend} after the faults")

        # ---- the accounting
        acked = pusher.acked
        rows = {r[0]: r for r in query(url, "SELECT id, status, records_count FROM raw_files")}
        lost = [i for i in acked if i not in rows or rows[i][1] != "parsed"]
        expected_records = sum(int(rows[i][2]) for i in acked if i in rows)
        ids = ",".join(f"'{i}'" for i in acked)
        stored_records = scalar(url, f"SELECT COUNT(*) FROM records WHERE file_id IN ({ids})")
        # Every pushed file has the same shape, so the same number of records.
        counts = [int(rows[i][2]) for i in acked if i in rows]
        usual = max(set(counts), key=counts.count) if counts else 0
        short = [i for i in acked if i in rows and (int(rows[i][2]) != usual or usual == 0)]
        outbox = query(url, "SELECT id, finding_id, seq, status FROM webhook_outbox ORDER BY seq")
        deliveries = receiver.keys()
        first = {}
        for pos, (key, at) in enumerate(deliveries):
            first.setdefault(key, pos)
        undelivered = [r[0] for r in outbox if r[0] not in first]
        dead = [r[0] for r in outbox if r[3] == "dead"]
        unknown = [k for k in first if k not in {r[0] for r in outbox}]
        order_broken = 0
        per_finding = {}
        for r in outbox:
            per_finding.setdefault(r[1], []).append(first.get(r[0], -1))
        for positions in per_finding.values():
            if any(a > b for a, b in zip(positions, positions[1:])):
                order_broken += 1
        repeats = len(deliveries) - len(first)
        result.update({
            "pushes": dict(sorted((str(k), v) for k, v in pusher.statuses.items())),
            "acknowledged": len(acked),
            "lost": len(lost),
            "records_expected": expected_records,
            "records_stored": stored_records,
            "records_per_file": usual,
            "files_with_another_record_count": len(short),
            "events": len(outbox),
            "undelivered": len(undelivered),
            "dead": len(dead),
            "unknown_keys": len(unknown),
            "deliveries": len(deliveries),
            "repeated_deliveries_same_key": repeats,
            "findings_out_of_order": order_broken,
            "bad_signatures": receiver.bad_signatures,
            "503_with_retry_after": pusher.retry_after_503,
            "gateway_starts": gw.starts,
        })
        ok = (not lost and expected_records == stored_records and not short and not undelivered
              and not dead and not unknown and order_broken == 0 and receiver.bad_signatures == 0)
        result["pass"] = ok
        return result
    finally:
        gw.stop()
        if pg:
            pg.stop()
        else:
            subprocess.run(["umount", "-l", disk])


def main():
    if os.geteuid() != 0:
        raise SystemExit("faults.py needs root (tmpfs mounts, PostgreSQL run as postgres)")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    os.chmod(WORK, 0o755)
    log(f"wagegate faults: {BIN}, backends {BACKENDS}, {KILLS} kills during ingest, "
        f"time scale 1/{TIME_SCALE}, {os.cpu_count()} cores, load average {loadavg()}")
    sh(BIN, "certs", "dev", "--out", os.path.join(WORK, "pki"))
    env = dict(os.environ, WAGEGATE__DATABASE__URL=f"sqlite://{WORK}/demo/wagegate.db")
    subprocess.run([BIN, "demo", "--dir", os.path.join(WORK, "demo")], env=env, check=True,
                   capture_output=True, cwd=WORK)
    started = time.time()
    results = [run_backend(b) for b in BACKENDS]
    log(f"load average {loadavg()}, {time.time() - started:.0f} s")
    for r in results:
        print(json.dumps(r, ensure_ascii=False, indent=1))
    ok = all(r["pass"] for r in results)
    print("faults: PASS" if ok else "faults: FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
