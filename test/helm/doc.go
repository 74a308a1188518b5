// Package helm tests deploy/helm/prescale, the Helm chart, without a
// cluster, through the Helm Go SDK: it lints the chart, renders it
// against golden files, and checks that it renders the objects of
// deploy/base, deploy/overlays and deploy/monitoring (built with
// kustomize's Go API) for the values that select them. Its own module,
// so that the service does not link Helm.
package helm
