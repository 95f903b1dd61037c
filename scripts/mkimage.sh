#!/bin/sh
# scripts/mkimage.sh OUTDIR [TAG] - build the busybox test image as an OCI
# image layout (oci-layout, index.json, blobs/sha256/...) without docker:
# one gzip layer with Debian's static busybox and a symlink per applet in
# /bin, /etc/passwd and /etc/group (root, nobody 65534), /tmp (1777),
# /var/www/index.html, /etc/hosts, /proc /sys /dev /root. The tar and gzip
# are reproducible, so the digests only change with busybox itself.
# index.json names the image TAG (default 1.35) in the
# org.opencontainers.image.ref.name annotation: skopeo's oci:OUTDIR:TAG.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [TAG]" >&2; exit 2; }
out=$1
tag=${2:-1.35}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "$0: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$bb" >/dev/null 2>&1; then
	echo "$0: $bb is not static (install busybox-static)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kube9-mkimage.XXXXXX")
trap 'rm -rf "$work"' EXIT
r=$work/rootfs
umask 022
mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/var/www" "$r/proc" "$r/sys" "$r/dev" "$r/root" \
	"$r/home" "$r/usr/bin" "$r/usr/sbin" "$r/sbin"
cp "$bb" "$r/bin/busybox"
chmod 0755 "$r/bin/busybox"
for a in $("$bb" --list); do
	case "$a" in busybox | */*) continue ;; esac
	ln -s busybox "$r/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$r/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
: >"$r/etc/resolv.conf"
printf 'kube9\n' >"$r/var/www/index.html"
chmod 1777 "$r/tmp"
chmod 0700 "$r/root"

# sha256 and size of a file: "HEX SIZE"
digest() { echo "$(sha256sum "$1" | cut -d' ' -f1) $(stat -c %s "$1")"; }

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
	-C "$r" -cf "$work/layer.tar" .
gzip -n -9 -c "$work/layer.tar" >"$work/layer.tar.gz"
set -- $(digest "$work/layer.tar")
diff_id=$1
set -- $(digest "$work/layer.tar.gz")
layer=$1 layer_size=$2

printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"kube9 scripts/mkimage.sh"}]}' \
	"$diff_id" >"$work/config.json"
set -- $(digest "$work/config.json")
config=$1 config_size=$2

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
	"$config" "$config_size" "$layer" "$layer_size" >"$work/manifest.json"
set -- $(digest "$work/manifest.json")
manifest=$1 manifest_size=$2

l=$work/layout
mkdir -p "$l/blobs/sha256"
mv "$work/layer.tar.gz" "$l/blobs/sha256/$layer"
mv "$work/config.json" "$l/blobs/sha256/$config"
mv "$work/manifest.json" "$l/blobs/sha256/$manifest"
printf '{"imageLayoutVersion":"1.0.0"}' >"$l/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
	"$manifest" "$manifest_size" "$tag" >"$l/index.json"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$l" "$out"
echo "mkimage: $out: busybox:$tag manifest sha256:$manifest" >&2
