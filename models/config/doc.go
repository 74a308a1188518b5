// Package config reads the targets file of `prescale serve --config`: YAML
// decoded field by field through models.TargetFields, so that every problem
// is reported with its file, line and field (and a did-you-mean for a
// misspelled one), never only the first.
package config
