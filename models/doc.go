// Package models manages the life of one target's model: its declared
// configuration, the fitted forecaster and detector, refits, snapshots and
// the policy that turns a quantile forecast into replicas.
package models
