// Package e2e is prescale's end-to-end test: a real Prometheus, etcd,
// kube-apiserver and kube-controller-manager on loopback, and `prescale
// serve` feeding a HorizontalPodAutoscaler through the external metrics
// API. It is its own module so the control plane (k8s.io/kubernetes, tracked
// as tools in go.mod) never enters prescale's dependency graph; prescale is
// built from the repository root and run as a binary. Prometheus is started
// by prescale's own feed/prometheus/promtest, required through a replace of
// the repository root: so prescale's requirements are in this module's
// graph too, and the control plane is built with the newer of its own and
// prescale's versions of what they share. Run it with
// `bash .ci/e2e.sh` (make e2e), which builds the binaries and passes their
// paths in the PRESCALE_E2E_* environment variables.
package e2e
