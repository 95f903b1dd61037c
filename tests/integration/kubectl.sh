#!/bin/sh
# kubectl against kube9 with the generated admin kubeconfig.
. "$(dirname "$0")/lib.sh"
command -v kubectl >/dev/null || skip_all "kubectl is not installed (make deps installs it)"
start_server
K() { kubectl --kubeconfig "$KUBECONFIG" --request-timeout=20s "$@"; }

check "kubectl get namespaces" sh -c "K() { kubectl --kubeconfig $KUBECONFIG \"\$@\"; }; K get namespaces -o name 2>$T/err | grep -q namespace/kube-system || { cat $T/err; false; }"
K create -f "$ROOT/examples/pod.yaml" >"$T/o" 2>&1
check "kubectl create -f examples/pod.yaml" grep -q 'pod/pod created' "$T/o" || cat "$T/o"
K get pod pod -o json >"$T/o" 2>&1
check "kubectl get -o json" [ "$(jget .metadata.name <"$T/o")" = pod ]
K get pod pod -o yaml >"$T/o" 2>&1
check "kubectl get -o yaml" grep -q '^  name: pod' "$T/o"
K get pods -A >"$T/o" 2>&1
check "kubectl get pods -A" grep -Eq '^default +pod ' "$T/o"
K get pods >"$T/o" 2>&1
check "kubectl get pods prints Ready, Status, Restarts, Age" \
	sh -c "head -1 $T/o | grep -Eq '^NAME +READY +STATUS +RESTARTS +AGE' && grep -Eq '^pod +0/1 +Pending +0 ' $T/o"
K get pods -o wide >"$T/o" 2>&1
check "kubectl get -o wide adds IP and Node" sh -c "head -1 $T/o | grep -Eq 'IP +NODE'"
K label pod pod tier=frontend >"$T/o" 2>&1
check "kubectl label" sh -c "grep -q labeled $T/o || { cat $T/o; false; }"
K get pods -l tier=frontend -o name >"$T/o" 2>&1
check "kubectl get -l" grep -q pod/pod "$T/o"
K annotate pod pod note=hello >"$T/o" 2>&1
check "kubectl annotate" sh -c "[ \"\$(kubectl --kubeconfig $KUBECONFIG get pod pod -o jsonpath='{.metadata.annotations.note}')\" = hello ] || { cat $T/o; false; }"

K apply -f "$ROOT/examples/web.yaml" >"$T/o" 2>&1
check "kubectl apply -f (create)" sh -c "grep -q 'deployment.apps/web created' $T/o || { cat $T/o; false; }"
sed 's/replicas: 3/replicas: 4/' "$ROOT/examples/web.yaml" >"$T/web.yaml"
K apply -f "$T/web.yaml" >"$T/o" 2>&1
check "kubectl apply -f (update)" sh -c "grep -q 'deployment.apps/web configured' $T/o || { cat $T/o; false; }"
check "apply changed replicas" [ "$(K get deploy web -o jsonpath='{.spec.replicas}')" = 4 ]
K scale deployment web --replicas=7 >"$T/o" 2>&1
check "kubectl scale" sh -c "[ \"\$(kubectl --kubeconfig $KUBECONFIG get deploy web -o jsonpath='{.spec.replicas}')\" = 7 ] || { cat $T/o; false; }"
K get deploy web -o yaml | sed 's/replicas: 7/replicas: 2/' >"$T/rep.yaml"
K replace -f "$T/rep.yaml" >"$T/o" 2>&1
check "kubectl replace -f" sh -c "grep -q replaced $T/o || { cat $T/o; false; }"

timeout 5 kubectl --kubeconfig "$KUBECONFIG" get configmaps -w -o name >"$T/w" 2>&1 &
PIDS="$PIDS $!"
sleep 1
K create configmap watched --from-literal=a=b >/dev/null 2>&1
i=0; while ! grep -q watched "$T/w" && [ $i -lt 60 ]; do sleep 0.1; i=$((i + 1)); done
check "kubectl get -w sees a new object" grep -q configmap/watched "$T/w"

K delete pod pod >"$T/o" 2>&1
check "kubectl delete" sh -c "grep -q deleted $T/o || { cat $T/o; false; }"
K get pod pod >"$T/o" 2>&1
check "kubectl get after delete: NotFound" grep -q NotFound "$T/o"
K create -f - >"$T/o" 2>&1 <<'Y'
apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name
spec:
  containers: []
Y
check "kubectl create of an invalid pod shows the reason" grep -q 'is invalid' "$T/o"
done_testing
