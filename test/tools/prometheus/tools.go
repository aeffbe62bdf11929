//go:build tools

// Package tools pins the Prometheus commands the monitoring tests build (test/cluster/build.ts ensureGoTool):
// importing them here makes `go mod tidy` keep their whole dependency graph in go.sum.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
