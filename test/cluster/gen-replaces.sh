#!/usr/bin/env bash
# Prints the replace block for test/cluster/go.mod from the real go.mod of a Kubernetes release: every staging
# module (k8s.io/api, k8s.io/apiserver, ...) that k8s.io/kubernetes replaces with ./staging/src/... is pointed
# at the published v0.Y.Z of the same release. Usage: test/cluster/gen-replaces.sh v1.36.3
# To move to another release: update the versions in go.mod, paste this output over its replace block,
# run `go mod tidy` here, and change KUBERNETES_VERSION/ETCD_VERSION in build.ts.
set -euo pipefail
version="${1:?usage: $0 v1.MINOR.PATCH}"
staging="v0.${version#v1.}"
gomod="$(go mod download -json "k8s.io/kubernetes@${version}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
echo 'replace ('
awk -v v="$staging" '/^replace \(/{f=1;next} f&&/^\)/{f=0} f && /=> \.\/staging/ {print "\t" $1 " => " $1 " " v}' "$gomod"
echo ')'
echo "# etcd pinned by k8s.io/kubernetes ${version}:" >&2
grep 'go.etcd.io/etcd/server/v3 ' "$gomod" >&2
