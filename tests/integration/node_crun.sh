#!/bin/bash
# tests/integration/node_crun.sh - real pods under crun on a real node agent:
# a web server answering on its pod IP, two containers sharing localhost and
# an emptyDir, the pod's hostname, a secret as file (tmpfs, 0400) and as env,
# configmap env, another namespace's secret refused, init containers in
# order, restartPolicy Never, a liveness failure restarting a container,
# cgroup limits, OOMKilled, runAsUser/readOnlyRootFilesystem/dropped caps,
# graceful deletion with SIGTERM, and nothing left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
start_server
M=$T/mnt
start_mount "$M"
check "the busybox image is imported into the node's store" node_image
start_kube9 sched.log sched --mount "$M"
start_kube9 ctl.log controllers --mount "$M"
start_node --log-max-size 4096 --log-max-files 3 --sync-period 1
node_up() { [ "$(jq -r '.status.conditions[] | select(.type=="Ready") | .status' "$M/nodes/$(hostname).json" 2>/dev/null)" = True ]; }
check "the node registers and is Ready" wait_for 10 node_up
check "it has the host's capacity" [ "$(jq -r .status.capacity.cpu "$M/nodes/$(hostname).json")" = "$(nproc)" ]
NJ=$M/nodes/$(hostname).json
check "its status lists the images it has" sh -c "jq -r '.status.images[].names[]' $NJ | grep -qx $IMG"
check "its status has the node's cpu and memory in use" sh -c "jq -e '.status.usage.cpu and .status.usage.memory' $NJ >/dev/null"
D=$M/namespaces/default

# --- a web server with a sidecar: localhost, emptyDir, hostname ---
cat >"$D/pods/web.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  volumes: [{name: shared, emptyDir: {}}]
  containers:
  - name: httpd
    image: $IMG
    command: [httpd, -f, -p, "8080", -h, /var/www]
    resources: {requests: {cpu: 100m, memory: 16Mi}, limits: {cpu: 500m, memory: 64Mi}}
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: side
    image: $IMG
    command: [sh, -c, 'hostname > /shared/hostname; while :; do wget -q -O /shared/got http://127.0.0.1:8080/ && break; sleep 0.2; done; sleep 3600']
    volumeMounts: [{name: shared, mountPath: /shared}]
  terminationGracePeriodSeconds: 1
EOF
check "a web pod becomes Running" wait_for 30 phase_is default web Running
IP=$(pj default web .status.podIP)
UID_WEB=$(pj default web .metadata.uid)
check "it has a pod IP from the node's range ($IP)" [ "${IP%.*}" = "${NET%.*}" ]
check "Ready and ContainersReady are True" [ "$(pj default web '[.status.conditions[] | select(.type=="Ready" or .type=="ContainersReady") | .status] | join(",")')" = True,True ]
check "its web server answers on the pod IP from the host" sh -c "curl -fsS -m 5 http://$IP:8080/ | grep -q kube9"
V=$ST/pods/$UID_WEB/volumes/shared
check "the sidecar reached it on localhost through the shared emptyDir" wait_for 10 grep -q kube9 "$V/got"
check "the pod's hostname is its name" wait_for 5 grep -qx web "$V/hostname"
check "containerStatuses say running, with image and imageID" [ "$(pj default web '[.status.containerStatuses[] | select(.state.running and .imageID != "" and .image == "'$IMG'")] | length')" = 2 ]
mem=$(cat /sys/fs/cgroup/memory/kube9/pod$UID_WEB/httpd/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/kube9/pod$UID_WEB/httpd/memory.max)
check "the memory limit is the container's cgroup limit ($mem)" [ "$mem" = 67108864 ]
q=$(cat /sys/fs/cgroup/cpu/kube9/pod$UID_WEB/httpd/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/kube9/pod$UID_WEB/httpd/cpu.max)
check "the cpu limit is a CFS quota ($q)" [ "$q" = 50000 ]
check "hostIP and startTime are set" [ -n "$(pj default web '.status.hostIP // empty')" -a -n "$(pj default web '.status.startTime // empty')" ]

# --- a second pod on the same node reaches the first ---
cat >"$D/pods/client.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: $IMG
    command: [sh, -c, 'wget -q -O - http://$IP:8080/']
EOF
check "a pod reaches another pod's IP and Succeeds" wait_for 30 phase_is default client Succeeded
check "... its log has the page" log_has default client c kube9
check "... exit code 0, reason Completed" [ "$(pj default client '.status.containerStatuses[0].state.terminated | "\(.exitCode) \(.reason)"')" = "0 Completed" ]

# --- secrets and configmaps ---
cat >"$D/secrets/s1.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata: {name: s1}
stringData: {password: hunter2}
EOF
cat >"$D/configmaps/cm1.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1}
data: {COLOR: blue}
EOF
cat >"$T/sec.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: s, secret: {secretName: s1}}]
  containers:
  - name: c
    image: $IMG
    command: [sh, -c, 'echo "file=\$(cat /etc/sec/password)"; echo "env=\$PASS"; echo "cm=\$COLOR"; echo "mode=\$(stat -c %a /etc/sec/password)"; grep " /etc/sec " /proc/mounts; echo "expanded=\$(echo \$MSG)"; sleep 3600']
    env:
    - {name: PASS, valueFrom: {secretKeyRef: {name: s1, key: password}}}
    - {name: MSG, value: "color \$(COLOR)"}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    envFrom: [{configMapRef: {name: cm1}}]
    volumeMounts: [{name: s, mountPath: /etc/sec}]
EOF
cp "$T/sec.yaml" "$D/pods/sec.yaml"
check "a pod with a secret volume and env runs" wait_for 30 phase_is default sec Running
check "the secret is a file" wait_for 5 log_has default sec c "file=hunter2"
check "the secret is in the env (secretKeyRef)" log_has default sec c "env=hunter2"
check "configMap keys are in the env (envFrom)" log_has default sec c "cm=blue"
check "secret files are mode 0400" log_has default sec c "mode=400"
check "the secret volume is a tmpfs" log_has default sec c "tmpfs /etc/sec tmpfs"
check "\$(VAR) in env values is expanded" log_has default sec c "expanded=color blue"
printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: s1}\nstringData: {password: swordfish}\n' >"$D/secrets/s1.yaml"
SEC_ID=k9-$(pj default sec .metadata.uid)-c
sec_updated() { crun_host exec "$SEC_ID" cat /etc/sec/password 2>/dev/null | grep -qx swordfish; }
check "a changed secret reaches the running container's volume" wait_for 15 sec_updated
check "kubectl logs reads it through the API server and the node" sh -c "kubectl logs sec | grep -qx file=hunter2"
check "the mount's sec.log reads it too" grep -qx "env=hunter2" "$D/pods/sec.log"
# --- logs: rotated at --log-max-size, --log-max-files kept, long lines in parts ---
cat >"$D/pods/chatty.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMG
    command: [sh, -c, 'i=0; while [ \$i -lt 300 ]; do echo "line \$i ..........................................................................................."; i=\$((i+1)); done; echo oops >&2; sleep 0.5; head -c 20000 /dev/zero | tr "\\0" x; echo; sleep 3600']
EOF
check "a chatty pod runs" wait_for 30 phase_is default chatty Running
CL=$ST/logs/default_chatty_$(pj default chatty .metadata.uid)/c
# (stdout and stderr are two pipes: a part of a long stdout line and a stderr line may
# interleave in the file, and are then read as the kubelet reads them: hence the sleep)
long_line() { [ "$(kubectl logs chatty 2>/dev/null | awk 'length($0) == 20000' | wc -l)" = 1 ]; }
check "a 20,000-byte line is written in parts and read back whole" wait_for 10 long_line
check "its log was rotated at 4 KiB" sh -c "[ -f $CL/0.log.1 ] && [ \$(stat -c %s $CL/0.log) -le 20200 ]"
check "only 3 rotated files are kept" sh -c "[ -f $CL/0.log.3 ] && [ ! -e $CL/0.log.4 ]"
check "the files are in the CRI format, stderr marked" sh -c "cat $CL/0.log* | grep -Eq '^[0-9T:.-]+Z stderr F oops$'"
rm "$D/pods/chatty.yaml"
mkdir -p "$M/namespaces/other" 2>/dev/null
wait_for 5 test -d "$M/namespaces/other/pods"
cp "$T/sec.yaml" "$M/namespaces/other/pods/sec.yaml"
waiting_cfg() { [ "$(pj other sec '.status.containerStatuses[0].state.waiting.reason // empty')" = CreateContainerConfigError ]; }
check "another namespace's secret is not found: CreateContainerConfigError" wait_for 20 waiting_cfg
check "... with the reason in the message" grep -q 'secret \\"s1\\" not found' "$M/namespaces/other/pods/sec.json"

printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: hostnet}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: %s, command: [sleep, "3600"]}]\n' "$IMG" >"$D/pods/hostnet.yaml"
hostnet() { pj default hostnet '.status.containerStatuses[0].state.waiting | "\(.reason): \(.message)"' | grep -q 'CreateContainerConfigError: hostNetwork is not supported'; }
check "hostNetwork is refused, saying so (CreateContainerConfigError)" wait_for 20 hostnet

# --- init containers, in order, then the app ---
cat >"$D/pods/init.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: w, emptyDir: {}}]
  initContainers:
  - {name: i1, image: $IMG, command: [sh, -c, 'sleep 0.3; echo one >> /w/order'], volumeMounts: [{name: w, mountPath: /w}]}
  - {name: i2, image: $IMG, command: [sh, -c, 'echo two >> /w/order'], volumeMounts: [{name: w, mountPath: /w}]}
  containers:
  - {name: app, image: $IMG, command: [sh, -c, 'tr "\n" " " < /w/order; echo; sleep 3600'], volumeMounts: [{name: w, mountPath: /w}]}
EOF
check "a pod with init containers runs" wait_for 30 phase_is default init Running
check "the init containers ran in order, before the app" wait_for 5 log_has default init app "one two"
check "initContainerStatuses: both Completed" [ "$(pj default init '[.status.initContainerStatuses[].state.terminated.reason] | join(",")')" = Completed,Completed ]
check "Initialized is True" [ "$(pj default init '.status.conditions[] | select(.type=="Initialized") | .status')" = True ]

# --- a native sidecar: an init container with restartPolicy Always keeps running ---
cat >"$D/pods/sidecar.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: sidecar}
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: web, image: $IMG, restartPolicy: Always, command: [httpd, -f, -p, "8081", -h, /var/www]}
  containers:
  - {name: app, image: $IMG, command: [sh, -c, 'until wget -q -O - http://127.0.0.1:8081/; do sleep 0.2; done; sleep 3600']}
EOF
check "a pod with a native sidecar runs" wait_for 30 phase_is default sidecar Running
check "... the sidecar keeps running beside the app" [ "$(pj default sidecar '.status.initContainerStatuses[0].state | keys[0]')" = running ]
check "... and the app reached it on localhost" wait_for 10 log_has default sidecar app kube9

# --- restartPolicy Never: Failed with the exit code ---
cat >"$D/pods/fail.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: fail}
spec:
  restartPolicy: Never
  containers: [{name: c, image: $IMG, command: [sh, -c, 'echo bye; exit 3']}]
EOF
check "restartPolicy Never and exit 3: phase Failed" wait_for 30 phase_is default fail Failed
check "... exitCode 3, reason Error, no restart" [ "$(pj default fail '.status.containerStatuses[0] | "\(.state.terminated.exitCode) \(.state.terminated.reason) \(.restartCount)"')" = "3 Error 0" ]

# --- a command that does not exist: StartError, and restartPolicy decides ---
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: noexec}\nspec:\n  restartPolicy: Never\n  containers: [{name: c, image: %s, command: [/no/such]}]\n' "$IMG" >"$D/pods/noexec.yaml"
check "a command that does not exist: Failed (restartPolicy Never)" wait_for 30 phase_is default noexec Failed
check "... terminated with reason StartError, exit code 128, no restart" [ "$(pj default noexec '.status.containerStatuses[0] | "\(.state.terminated.reason) \(.state.terminated.exitCode) \(.restartCount)"')" = "StartError 128 0" ]
check "... crun's words in the message" sh -c "jq -r '.status.containerStatuses[0].state.terminated.message' $D/pods/noexec.json | grep -q 'no/such'"

# --- a crashing container is restarted with back-off (OnFailure) ---
cat >"$D/pods/crash.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: $IMG, command: [sh, -c, 'echo run; exit 1']}]
EOF
restarted() { [ "$(pj default crash '.status.containerStatuses[0].restartCount // 0')" -ge "$1" ]; }
check "a failing container is restarted (OnFailure)" wait_for 30 restarted 2
check "... its lastState is terminated with exitCode 1" [ "$(pj default crash '.status.containerStatuses[0].lastState.terminated.exitCode')" = 1 ]
check "... and each run has its own log file" sh -c "[ -f $ST/logs/default_crash_$(pj default crash .metadata.uid)/c/1.log ]"
crashloop() { [ "$(pj default crash '.status.containerStatuses[0].state.waiting.reason // empty')" = CrashLoopBackOff ]; }
check "... it shows CrashLoopBackOff between runs" wait_for 20 crashloop

# --- a failing liveness probe restarts the container ---
cat >"$D/pods/live.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMG
    command: [sh, -c, 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600']
    livenessProbe: {exec: {command: [test, -f, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 2}
EOF
lrestart() { [ "$(pj default live '.status.containerStatuses[0].restartCount // 0')" -ge 1 ]; }
check "a failing liveness probe restarts the container" wait_for 40 lrestart
check "... an Unhealthy event says so" sh -c "grep -l 'Liveness probe failed' $D/events/*.yaml >/dev/null 2>&1"

# --- readiness: a probe that fails keeps the pod not Ready ---
cat >"$D/pods/unready.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: unready}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMG
    command: [httpd, -f, -p, "8080", -h, /var/www]
    readinessProbe: {httpGet: {path: /nope.html, port: 8080}, periodSeconds: 1}
  - name: d
    image: $IMG
    command: [sleep, "3600"]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
EOF
check "a pod whose readiness probe fails runs" wait_for 30 phase_is default unready Running
sleep 2
check "... but is not Ready (httpGet 404)" [ "$(pj default unready '.status.conditions[] | select(.type=="Ready") | .status')" = False ]
check "... the tcpSocket probe of the other container succeeds" [ "$(pj default unready '.status.containerStatuses[] | select(.name=="d") | .ready')" = true ]
setfattr -n user.app -v probed "$D/pods/unready.yaml"
setfattr -n user.app -v probed "$D/pods/init.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: probed}\nspec:\n  selector: {app: probed}\n  ports: [{port: 80, targetPort: 8080}]\n' >"$D/services/probed.yaml"
IP_U=$(pj default unready .status.podIP)
IP_I=$(pj default init .status.podIP)
ep() { jq -r "[.subsets[]?.$1[]?.ip] | sort | join(\",\")" "$D/endpoints/probed.json" 2>/dev/null; }
eps_ok() { [ "$(ep addresses)" = "$IP_I" ] && [ "$(ep notReadyAddresses)" = "$IP_U" ]; }
check "readiness drives the service's endpoints: the unready pod is notReady" wait_for 20 eps_ok

# --- security context ---
cat >"$D/pods/secure.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: secure}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsUser: 1000, runAsGroup: 1000}
  containers:
  - name: c
    image: $IMG
    command: [sh, -c, 'touch /x 2>/dev/null && echo root=rw || echo root=ro; echo "uid=\$(id -u) gid=\$(id -g)"; grep CapBnd /proc/self/status; sleep 3600']
    securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
EOF
check "runAsUser/readOnlyRootFilesystem pod runs" wait_for 30 phase_is default secure Running
check "the root filesystem is read-only" wait_for 5 log_has default secure c "root=ro"
check "it runs as uid 1000 gid 1000" log_has default secure c "uid=1000 gid=1000"
check "all capabilities are dropped" log_has default secure c "CapBnd:	0000000000000000"

# --- memory limits are enforced ---
cat >"$D/pods/oom.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: $IMG
    command: [sh, -c, 'x=\$(head -c 100000000 /dev/zero | tr "\0" a); echo survived']
    resources: {limits: {memory: 20Mi}}
EOF
check "a container over its memory limit is OOMKilled" wait_for 40 sh -c "[ \"\$(jq -r '.status.containerStatuses[0].state.terminated.reason // empty' $D/pods/oom.json)\" = OOMKilled ]"

# --- graceful deletion: SIGTERM first, then the pod goes with everything ---
mkdir -p "$T/term"
cat >"$D/pods/grace.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: grace}
spec:
  terminationGracePeriodSeconds: 20
  volumes: [{name: h, hostPath: {path: $T/term}}]
  containers:
  - name: c
    image: $IMG
    command: [sh, -c, 'trap "echo got-TERM > /h/term; exit 0" TERM; while :; do sleep 0.1; done']
    volumeMounts: [{name: h, mountPath: /h}]
EOF
check "a pod that handles SIGTERM runs" wait_for 30 phase_is default grace Running
UID_G=$(pj default grace .metadata.uid)
t0=$(date +%s)
rm "$D/pods/grace.yaml"
gone() { [ ! -e "$D/pods/$1.json" ]; }
check "rm deletes it gracefully: gone once its container exits" wait_for 15 gone grace
check "... well before the grace period (SIGTERM was handled)" [ $(($(date +%s) - t0)) -lt 15 ]
check "... the container got SIGTERM" grep -q got-TERM "$T/term/term"
check "... its state, logs and cgroup are gone" sh -c "[ ! -e $ST/pods/$UID_G ] && [ ! -e $ST/logs/default_grace_$UID_G ] && [ ! -e /sys/fs/cgroup/memory/kube9/pod$UID_G ]"
check "... its container is gone from crun" sh -c "! crun_host list -q 2>/dev/null | grep -q $UID_G" 

# --- a pod ignoring SIGTERM is killed after its grace period ---
rm "$D/pods/web.yaml"
check "a pod ignoring SIGTERM is killed after its grace period (1 s)" wait_for 15 gone web
check "... its IP is free again" sh -c "! grep -rqs $UID_WEB $ST/cni/"
check "the host no longer reaches its address" not curl -fsS -m 1 "http://$IP:8080/"

for p in client sec init sidecar fail crash live unready secure oom noexec hostnet; do rm -f "$D/pods/$p.yaml"; done
rm -f "$M/namespaces/other/pods/sec.yaml"
none_left() { [ -z "$(ls "$ST/pods")" ] && [ -z "$(crun_host list -q 2>/dev/null)" ]; }
check "after deleting every pod nothing is left: no state, no containers" wait_for 30 none_left
check "no pause process or shim is left" sh -c "! pgrep -P $NODE_PID -f 'kube9 (pause|shim)' >/dev/null"
check "no logs are left" [ -z "$(ls $ST/logs)" ]
done_testing
