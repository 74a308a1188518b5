// Package cluster says which of several prescale replicas acts for each
// target: the replicas find each other through Kubernetes coordination
// Leases (one per replica, renewed while it runs, deleted when it stops),
// and rendezvous hashing (package rendezvous) of the target's key over the
// live replicas picks its owner, so that a replica joining or leaving moves only the targets
// it must. Kubernetes is the coordination service; there is no protocol
// of prescale's own between the replicas.
package cluster
