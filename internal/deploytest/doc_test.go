// Package deploytest checks that what ships beside the code agrees with
// it: every metric the Grafana dashboard and the Prometheus alert rules
// use is one the worker or admin registers (with the labels they use), the
// Prometheus jobs they select exist, and every example payload of
// docs/asyncapi.yaml decodes into the project's own types. It has test
// files only.
package deploytest
