// Package registry is the runtime of `prescale serve`: every target with
// its fitted model, live detector and cached forecast, kept current by
// fetches and refits on a scheduler and two pools of workers, warm across
// restarts through snapshots, durable across crashes for the targets
// created through the API or by KEDA through their specs (both in
// models/snapshot), and answering the API's questions (api.Backend). What
// a target does and when comes from package models; this package adds the
// clock, the locks and the I/O.
package registry
