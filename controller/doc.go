// Package controller makes prescale Kubernetes-native: it watches
// PredictiveAutoscaler custom resources (prescale.io/v1alpha1), registers
// the target each one declares in the registry, creates and owns the
// HorizontalPodAutoscaler that follows its recommendation, and writes the
// resource's status (conditions, recommendation, model, accuracy) and
// Events, at a bounded rate.
package controller
