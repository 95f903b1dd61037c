#!/usr/bin/env python3
"""bench/pods.py MOUNT_A MOUNT_B NS IMAGE STATE_DIR NODE_PID - pod startup latency.

Each pod is written into MOUNT_A (what `cp` does: open, write, close) and is
timed until `status.phase: Running` shows in MOUNT_B's pods .watch stream:
100 pods one after another, then 50 at once. Then the node agent's RSS with
every pod running, and, for the ratio, a bare `crun run --detach` of the same
container (same rootfs layers, same agent namespace trick) timed the same way.
Prints the figures; docs/benchmarks.md has them.
"""
import json, os, subprocess, sys, threading, time

A, B, NS, IMAGE, STATE, NODE_PID = sys.argv[1:7]
running = {}
cond = threading.Condition()


def watcher():
    with open(os.path.join(B, "namespaces", NS, "pods", ".watch")) as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            o = ev.get("object", {})
            if o.get("status", {}).get("phase") == "Running":
                name = o.get("metadata", {}).get("name")
                with cond:
                    if name not in running:
                        running[name] = time.monotonic()
                        cond.notify_all()


def manifest(name):
    return ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n"
            "  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n"
            "    image: %s\n    command: [sleep, \"3600\"]\n"
            "    resources: {requests: {cpu: 10m, memory: 8Mi}}\n" % (name, IMAGE))


def write(name):
    t0 = time.monotonic()
    with open(os.path.join(A, "namespaces", NS, "pods", name + ".yaml"), "w") as f:
        f.write(manifest(name))
    return t0


def wait(names, timeout=120):
    end = time.monotonic() + timeout
    with cond:
        while any(n not in running for n in names):
            if not cond.wait(max(0.01, end - time.monotonic())) and time.monotonic() > end:
                raise SystemExit("bench: pods not Running within %ds: %s" %
                                 (timeout, [n for n in names if n not in running][:5]))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def report(what, lat):
    ms = [x * 1000 for x in lat]
    print("%-34s n=%3d  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms" %
          (what, len(ms), pct(ms, 50), pct(ms, 99), max(ms)), flush=True)
    return pct(ms, 50), pct(ms, 99)


def rss_kib(pid):
    out = {}
    with open("/proc/%s/status" % pid) as f:
        for l in f:
            if l.startswith(("VmRSS", "VmHWM")):
                out[l.split(":")[0]] = int(l.split()[1])
    return out


def bare_crun(n):
    """crun run --detach of the same container: bundle prepared, rootfs mounted."""
    layers = sorted(os.path.join(STATE, "images", "layers", d)
                    for d in os.listdir(os.path.join(STATE, "images", "layers")) if not d.startswith("."))
    root = os.path.join(STATE, "bench-crun")
    script = r'''
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
R=%(root)s
mkdir -p $R/b/upper $R/b/work $R/b/rootfs $R/state
mount -t overlay overlay -o lowerdir=%(lower)s,upperdir=$R/b/upper,workdir=$R/b/work $R/b/rootfs
cd $R/b && crun spec >/dev/null 2>&1 || true
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sleep", "3600"/' config.json
for i in $(seq %(n)d); do
  t0=$(date +%%s%%N)
  crun --root $R/state run --detach --bundle $R/b bench$i </dev/null >/dev/null 2>&1
  t1=$(date +%%s%%N)
  echo $(( (t1 - t0) / 1000 ))
  crun --root $R/state kill bench$i KILL; sleep 0.05; crun --root $R/state delete -f bench$i
done
umount $R/b/rootfs
''' % {"root": root, "lower": ":".join(layers), "n": n}
    out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, text=True)
    subprocess.run(["rm", "-rf", root])
    return [int(x) / 1e6 for x in out.stdout.split()]


threading.Thread(target=watcher, daemon=True).start()
time.sleep(0.5)
# warm-up: the first pod pays for the bridge and the image's first use
write("warm")
wait(["warm"])
seq = []
for i in range(100):
    name = "seq-%d" % i
    t0 = write(name)
    wait([name])
    seq.append(running[name] - t0)
s50, s99 = report("100 pods one after another", seq)
r = rss_kib(NODE_PID)
print("node agent with 101 pods running: RSS %.1f MiB, peak %.1f MiB" %
      (r["VmRSS"] / 1024, r["VmHWM"] / 1024), flush=True)
names = ["par-%d" % i for i in range(50)]
t0s = {}
perf = None
if os.environ.get("PERF_BURST"):  # profile the burst only: perf report -i $PERF_BURST
    perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "999", "-o", os.environ["PERF_BURST"]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
ths = [threading.Thread(target=lambda n=n: t0s.__setitem__(n, write(n))) for n in names]
for t in ths:
    t.start()
for t in ths:
    t.join()
wait(names)
if perf:
    perf.send_signal(2)
    perf.wait()
p50, p99 = report("50 pods at once", [running[n] - t0s[n] for n in names])
r = rss_kib(NODE_PID)
print("node agent with %d pods running: RSS %.1f MiB, peak %.1f MiB" %
      (151, r["VmRSS"] / 1024, r["VmHWM"] / 1024), flush=True)
bare = bare_crun(20)
if bare:
    b50, _ = report("bare crun run --detach (baseline)", bare)
    print("ratio kube9 p50 / crun p50: sequential %.1fx, at once %.1fx" % (s50 / b50, p50 / b50))
