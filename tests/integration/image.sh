#!/bin/bash
# tests/integration/image.sh - the node image store end to end: the busybox
# layout from scripts/mkimage.sh pushed by skopeo to Debian's docker-registry
# on loopback, then `kube9 image pull` (layers unpacked once and shared, the
# registry's own error words, htpasswd Basic auth and a Bearer token realm
# answered from a dockerconfigjson file, two processes on one store),
# `kube9 image import` with no registry, and malicious layers that must
# write nothing outside the store. Never leaves loopback.
. "$(dirname "$0")/lib.sh"

for c in docker-registry skopeo python3 curl; do
	command -v $c >/dev/null 2>&1 || skip_all "$c is not installed"
done
[ -x /bin/busybox ] || skip_all "busybox-static is not installed"

# python3 helpers: mktar OUT.tar.gz ENTRY... (file:NAME, link:NAME:TARGET,
# dir:NAME), layout OUT TAG CMD LAYER.tar.gz... (an OCI layout), and index
# OUT TAG AMD64_LAYOUT ARM64_LAYOUT (a layout whose image is an index).
cat >"$T/mk.py" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
def mktar(out, specs):
    with tarfile.open(out, "w:gz") as t:
        for s in specs:
            kind, name, *rest = s.split(":", 2)
            ti = tarfile.TarInfo(name)
            data = b""
            if kind == "link":
                ti.type, ti.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            else:
                data = b"evil\n"
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
def blob(out, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)
def layout(out, tag, cmd, layers):
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    descs, diffs = [], []
    for l in layers:
        data = open(l, "rb").read()
        diffs.append("sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest())
        d, n = blob(out, data)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd.split()},
           "rootfs": {"type": "layers", "diff_ids": diffs}}
    cd, cn = blob(out, json.dumps(cfg).encode())
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
           "layers": descs}
    md, mn = blob(out, json.dumps(man).encode())
    idx = {"schemaVersion": 2, "manifests": [{"mediaType": man["mediaType"], "digest": md, "size": mn,
           "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    open(os.path.join(out, "index.json"), "w").write(json.dumps(idx))
    open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
def index(out, tag, amd64, arm64):
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    ms = []
    for src, arch in ((arm64, "arm64"), (amd64, "amd64")):
        for f in os.listdir(os.path.join(src, "blobs", "sha256")):
            blob(out, open(os.path.join(src, "blobs", "sha256", f), "rb").read())
        d = json.load(open(os.path.join(src, "index.json")))["manifests"][0]
        d.pop("annotations", None)
        d["platform"] = {"os": "linux", "architecture": arch}
        ms.append(d)
    ix = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms}
    d, n = blob(out, json.dumps(ix).encode())
    top = {"schemaVersion": 2, "manifests": [{"mediaType": ix["mediaType"], "digest": d, "size": n,
           "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    open(os.path.join(out, "index.json"), "w").write(json.dumps(top))
    open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
if sys.argv[1] == "mktar":
    mktar(sys.argv[2], sys.argv[3:])
elif sys.argv[1] == "index":
    index(*sys.argv[2:6])
else:
    layout(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
EOF

# A registry needing a Bearer token: a realm at /token answering user:pass,
# and /v2/ proxied to an upstream registry for requests bearing the token.
cat >"$T/token.py" <<'EOF'
import base64, http.server, sys, urllib.error, urllib.request
port, upstream, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
TOKEN = "k9-test-token"
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body, headers={}):
        self.send_response(code)
        for k, v in headers.items(): self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.startswith("/token"):
            good = "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
            if (self.headers.get("Authorization") == good and "service=k9test" in self.path
                    and "scope=repository%3Akube9%2Fbusybox%3Apull" in self.path):
                return self.reply(200, b'{"access_token":"%s"}' % TOKEN.encode())
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad token credentials"}]}')
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            ch = 'Bearer realm="http://127.0.0.1:%d/token",service="k9test",scope="repository:kube9/busybox:pull"' % port
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                              {"WWW-Authenticate": ch, "Content-Type": "application/json"})
        req = urllib.request.Request(upstream + self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            r = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            r = e
        self.reply(r.status if hasattr(r, "status") else r.code, r.read(),
                   {"Content-Type": r.headers.get("Content-Type", "application/octet-stream")})
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF

img() { "$KUBE9" image "$@" 2>>"$T/kube9.log"; }
# img_err ARGS...: kube9 image ARGS, its stderr on stdout (and in the log)
img_err() { "$KUBE9" image "$@" 2>&1 >/dev/null | tee -a "$T/kube9.log"; }
has() { printf '%s' "$1" | grep -q -- "$2"; }
quiet() { "$@" >/dev/null; }
ndirs() { find "$1/layers" -mindepth 1 -maxdepth 1 | wc -l; }
outside_clean() { [ ! -e "$T/escape" ] && [ ! -e "$S/escape" ] && [ ! -e "$S/layers/escape" ] &&
	[ ! -e "/kube9-abs-$$" ] && [ ! -e "/tmp/kube9-evil-$$" ]; }
trap 'rm -f "/kube9-abs-$$" "/tmp/kube9-evil-$$"; cleanup' EXIT

"$ROOT/scripts/mkimage.sh" "$T/layout" 1.35 2>>"$T/kube9.log" || { echo "# mkimage failed"; exit 1; }
check "mkimage.sh makes an OCI layout" test -f "$T/layout/oci-layout" -a -f "$T/layout/index.json"
"$ROOT/scripts/mkimage.sh" "$T/layout2" 1.35 2>/dev/null
check "mkimage.sh is reproducible" diff -r "$T/layout" "$T/layout2"

start_registry reg
REG1=$REG
check "skopeo pushes the layout" push "$T/layout:1.35" "$REG/kube9/busybox:1.35"

S=$T/store
t0=$(date +%s%N)
out=$(img pull --store "$S" "$REG/kube9/busybox:1.35")
rc=$?
echo "# pull of the busybox image from the loopback registry: $((($(date +%s%N) - t0) / 1000000)) ms"
check "kube9 image pull" [ $rc = 0 ]
check "it prints the ref and the config digest" has "$out" "^$REG/kube9/busybox:1.35 sha256:[0-9a-f]\{64\}$"
man=$(jq -r '.manifests[0].digest' "$T/layout/index.json" | cut -d: -f2)
lay=$(jq -r '.layers[0].digest' "$T/layout/blobs/sha256/$man" | cut -d: -f2)
check "the manifest and layer blobs are stored" test -f "$S/blobs/sha256/$man" -a -f "$S/blobs/sha256/$lay"
check "the layer is unpacked with bin/busybox" test -x "$S/layers/$lay/bin/busybox"
check "applets are symlinks to busybox" test "$(readlink "$S/layers/$lay/bin/sh")" = busybox
check "/tmp is 1777" test "$(stat -c %a "$S/layers/$lay/tmp")" = 1777
check "the ref file names the manifest" grep -q "sha256:$man" "$S/refs/$REG/kube9/busybox/:1.35"

before=$(stat -c '%i %Y' "$S/blobs/sha256/$lay")
check "pulling again works" quiet img pull --store "$S" "$REG/kube9/busybox:1.35"
check "... with no new layer dir" [ "$(ndirs "$S")" = 1 ]
check "... and without fetching the layer again" [ "$(stat -c '%i %Y' "$S/blobs/sha256/$lay")" = "$before" ]

python3 "$T/mk.py" layout "$T/other" 2 "echo other" "$T/layout/blobs/sha256/$lay"
push "$T/other:2" "$REG/kube9/other:2"
out2=$(img pull --store "$S" "$REG/kube9/other:2")
check "another image with the same layer" test -n "$out2" -a "${out2#* }" != "${out#* }"
check "... shares the layer dir" [ "$(ndirs "$S")" = 1 ]

check "a missing tag fails" not img pull --store "$S" "$REG/kube9/busybox:nope"
python3 "$T/mk.py" index "$T/multi" 3 "$T/layout" "$T/other"
skopeo copy -q --all --dest-tls-verify=false "oci:$T/multi:3" "docker://$REG/kube9/multi:3" \
	>>"$T/skopeo.log" 2>&1
out3=$(img pull --store "$S" "$REG/kube9/multi:3")
mt=$(curl -s -H "Accept: application/vnd.oci.image.index.v1+json" \
	"http://$REG/v2/kube9/multi/manifests/3" | jq -r .mediaType)
check "an index ($mt) picks linux/amd64" test -n "$out3" -a "${out3#* }" = "${out#* }"
skopeo copy -q --format v2s2 --dest-tls-verify=false "oci:$T/layout:1.35" \
	"docker://$REG/kube9/v2s2:1" >>"$T/skopeo.log" 2>&1
check "a Docker v2 schema 2 manifest" quiet img pull --store "$S" "$REG/kube9/v2s2:1"
mt=$(jq -r .mediaType "$S/blobs/sha256/$(cut -d: -f2 "$S/refs/$REG/kube9/v2s2/:1")")
check "... is stored as such" test "$mt" = application/vnd.docker.distribution.manifest.v2+json
check "... shares the layer dir too" [ "$(ndirs "$S")" = 1 ]

err=$(img_err pull --store "$S" "$REG/kube9/busybox:nope")
check "... with the registry's words" has "$err" "failed to pull \"$REG/kube9/busybox:nope\": manifest unknown (MANIFEST_UNKNOWN, HTTP 404)"
check "a bad reference is InvalidImageName" has "$(img_err pull --store "$S" Bad/Name)" InvalidImageName
err=$(img_err pull --store "$S" "127.0.0.1:$(free_port)/x:1")
check "a connection error names curl's error" has "$err" "Couldn't connect"

# two processes pulling into one fresh store
for i in 1 2; do img pull --store "$T/store2" "$REG/kube9/busybox:1.35" >/dev/null & eval "p$i=$!"; done
wait "$p1"; r1=$?; wait "$p2"; r2=$?
check "two processes pull into one store at once" test $r1 = 0 -a $r2 = 0
check "... leaving one layer and no temp files" test "$(ls -A "$T/store2/layers" | wc -l)" = 1 \
	-a -z "$(ls -A "$T/store2/blobs/sha256" | grep '^\.tmp')"

# htpasswd Basic auth
if command -v htpasswd >/dev/null 2>&1; then
	htpasswd -Bbn k9user k9pass >"$T/htpasswd"
else
	echo "k9user:$(perl -e 'print crypt("k9pass", "\$2b\$05\$abcdefghijklmnopqrstuu")')" >"$T/htpasswd"
fi
start_registry authreg "$(printf 'auth:\n  htpasswd:\n    realm: kube9-test\n    path: %s' "$T/htpasswd")"
AREG=$REG
check "skopeo pushes with credentials" push "$T/layout:1.35" "$AREG/kube9/busybox:1.35" k9user:k9pass
err=$(img_err pull --store "$T/s-auth" "$AREG/kube9/busybox:1.35")
check "an anonymous pull is refused" has "$err" "authentication required (UNAUTHORIZED, HTTP 401)"
printf '{"auths":{"https://%s":{"auth":"%s"}}}' "$AREG" "$(printf k9user:wrong | base64)" >"$T/bad.json"
check "a wrong password is refused" not img pull --store "$T/s-auth" --auth-file "$T/bad.json" "$AREG/kube9/busybox:1.35"
printf '{"auths":{"https://%s":{"auth":"%s"}}}' "$AREG" "$(printf k9user:k9pass | base64)" >"$T/auth.json"
check "dockerconfigjson credentials are accepted (Basic)" quiet img pull --store "$T/s-auth" --auth-file "$T/auth.json" "$AREG/kube9/busybox:1.35"
check "... and the layer is there" test -x "$T/s-auth/layers/$lay/bin/busybox"

# a Bearer token realm in front of the first registry
tport=$(free_port)
python3 "$T/token.py" "$tport" "http://$REG1" k9tok s3cret >>"$T/token.log" 2>&1 &
PIDS="$PIDS $!"
TREG=127.0.0.1:$tport
wait_for 20 sh -c "curl -s -o /dev/null http://$TREG/v2/" || echo "# token proxy did not start"
err=$(img_err pull --store "$T/s-tok" "$TREG/kube9/busybox:1.35")
check "Bearer: no credentials, no token" has "$err" "bad token credentials"
printf '{"auths":{"%s":{"username":"k9tok","password":"s3cret"}}}' "$TREG" >"$T/tok.json"
check "Bearer: a token from the realm with the credentials" quiet img pull --store "$T/s-tok" --auth-file "$T/tok.json" "$TREG/kube9/busybox:1.35"

# import with no registry
check "kube9 image import" quiet img import --store "$T/s-imp" "$T/layout" kube9.local/busybox:1.35
check "... unpacks the layer" test -x "$T/s-imp/layers/$lay/bin/busybox"
check "... and ls lists it" has "$(img ls --store "$T/s-imp")" "^kube9.local/busybox:1.35 "
check "pull --policy Never finds the import" quiet img pull --store "$T/s-imp" --policy Never kube9.local/busybox:1.35
err=$(img_err pull --store "$T/s-imp" --policy Never kube9.local/busybox:9)
check "Never on an absent image: ErrImageNeverPull" has "$err" \
	'ErrImageNeverPull: Container image "kube9.local/busybox:9" is not present with pull policy of Never'

# malicious layers
S=$T/s-evil
python3 "$T/mk.py" mktar "$T/dotdot.tgz" "dir:ok" "file:../escape" "file:ok/../../escape"
python3 "$T/mk.py" layout "$T/evil1" 1 sh "$T/dotdot.tgz"
check "a layer with ../ is refused" not img import --store "$S" "$T/evil1" evil/one:1
check "... and wrote nothing outside" outside_clean
python3 "$T/mk.py" mktar "$T/sym.tgz" "link:link:/" "file:link/tmp/kube9-evil-$$"
python3 "$T/mk.py" layout "$T/evil2" 1 sh "$T/sym.tgz"
check "a layer writing through a symlink to / is refused" not img import --store "$S" "$T/evil2" evil/two:1
check "... and wrote nothing outside" outside_clean
python3 "$T/mk.py" mktar "$T/abs.tgz" "file:/kube9-abs-$$" "file:/tmp/kube9-evil-$$"
python3 "$T/mk.py" layout "$T/evil3" 1 sh "$T/abs.tgz"
check "a layer with absolute paths is imported" quiet img import --store "$S" "$T/evil3" evil/three:1
check "... inside its layer dir only" outside_clean
check "... where they land" test -f "$(echo "$S"/layers/*/kube9-abs-$$)" -a -f "$(echo "$S"/layers/*/tmp/kube9-evil-$$)"
check "no temp dirs are left in the store" test -z "$(ls -A "$S/layers" | grep '^\.tmp')"

done_testing
