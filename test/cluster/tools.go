//go:build tools

// Package cluster pins the three commands that make up the local control plane, so that
// `go mod tidy` keeps their whole dependency graph in go.mod/go.sum. Nothing here is run:
// test/cluster/build.ts calls `go build` on these import paths directly.
package cluster

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
