// Package cluster says which of several prescale replicas acts for each
// target: the replicas find each other through Kubernetes coordination
// Leases (one per replica, renewed while it runs, deleted when it stops),
// and rendezvous hashing (package rendezvous) of the target's name over the
// live replicas picks its holders and, first of them, its owner, so that a
// replica joining or leaving moves only the targets it must. Kubernetes is
// the coordination service: no consensus of prescale's own. The replicas
// only ask each other about the targets they hold (PeerServer, Forwarder).
package cluster
