// Stands in for dapr's cmd/daprd/components/zz_notag.go in the tests' build (daprd.sh
// copies it over that file). dapr compiles that file when neither the allcomponents nor the
// stablecomponents tag is set, and it panics to make dapr's developers pick a set; both sets
// bring every component's SDK (cloud providers, brokers, databases). The platform needs
// none of them: tracing, service invocation to the app and metrics are the runtime's own.
//
// One name resolver is registered, since service invocation refuses to run without one
// ("name resolver not initialized"), even to the sidecar's own app. Standalone daprd
// defaults to mDNS, which announces the sidecar by multicast on every interface of the
// machine: the tests select the Kubernetes resolver instead (a second --config file), whose
// template they point at loopback, so that no name is looked up outside this machine.
package components

import (
	"github.com/dapr/components-contrib/nameresolution/kubernetes"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
)

func init() {
	nrLoader.DefaultRegistry.RegisterComponent(kubernetes.NewResolver, "kubernetes")
}
