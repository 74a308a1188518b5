// Package anomaly scores each point of a load history for how anomalous it
// is, in batch over a history or streaming point by point, so that glitches
// are flagged to users and kept out of model training.
package anomaly
