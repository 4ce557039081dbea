// Package deploycheck holds the offline checks of deploy/: no container
// engine or cluster runs where the tests do, so the tests render the
// kustomize overlay and decode every object strictly into the k8s.io/api
// types, load the compose file as docker compose would, run
// systemd-analyze verify on the units, parse the Dockerfile and compare its
// build commands with `make docker-steps`, and build the binary as the
// image does, then run it.
//
// The package has no code of its own, only tests; it imports no refundrecon
// package, because it checks deploy/ and the binary from outside, as an
// operator would.
package deploycheck
