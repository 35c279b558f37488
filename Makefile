# One entry point for humans. Each target is a short recipe over scripts/.
NODE ?= kwok
.PHONY: run test rules-test bench fuzz generate dev-up dev-down dev-status cluster-up cluster-down images kind-up kind-down help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

run: ## run examples/quickstart.yaml locally (starts the dev services when needed)
	scripts/run.sh $(ARGS)

test: ## fmt, clippy, dev services, every test
	scripts/test.sh

bench: ## benchmarks against the dev services, with ratios to raw ceilings
	scripts/bench.sh

rules-test: ## promtool check rules + unit tests of the chart's alerts (builds promtool pinned once)
	scripts/promtool.sh test

fuzz: ## cargo-fuzz every decoder target for FUZZ_SECONDS each (default 60); prints executions per target
	scripts/fuzz.sh $(ARGS)

generate: ## regenerate the CRD YAML (crds/ and the chart's copy), docs/configuration.md's tables and docs/openapi.json
	scripts/generate.sh

dev-up: ## start the dev services and print their addresses
	scripts/dev-services.sh start

dev-down: ## stop the dev services
	scripts/dev-services.sh stop

dev-status: ## state of the dev services
	scripts/dev-services.sh status

cluster-up: ## build (once) and start a local Kubernetes control plane with kwok (NODE=real: a real node with Kafka, FerretDB and the eventflow images)
	EVENTFLOW_CLUSTER_NODE=$(NODE) scripts/dev-cluster.sh start
	@if [ "$(NODE)" = real ]; then scripts/dev-cluster.sh stack; fi

cluster-down: ## stop the local Kubernetes control plane
	scripts/dev-cluster.sh stop

images: ## build the eventflow-operator and eventflow container images (Docker, else podman + a Debian base image)
	scripts/images.sh

kind-up: ## kind cluster + Kafka + MongoDB + chart + quickstart pipeline (needs docker, kind, helm, kubectl)
	scripts/kind-up.sh

kind-down: ## delete the kind cluster
	scripts/kind-down.sh
