//go:build tools

// Package helm pins helm.sh/helm/v3 so that `go mod tidy` keeps the whole dependency graph of the helm
// command in go.mod/go.sum. Nothing here is run: test/tools/helm.ts builds helm.sh/helm/v3/cmd/helm from
// this module with ensureGoTool (test/cluster/build.ts).
package helm

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
