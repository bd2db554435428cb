// The daprd the platform tests run: dapr's own entry point, as dapr's cmd/daprd/main.go
// calls it. daprd.sh builds it with dapr's components package replaced by
// components/components.go (no component SDKs; see there).
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() {
	app.Run()
}
