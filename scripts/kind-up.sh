#!/usr/bin/env bash
# `make kind-up`: a kind cluster with Kafka (KRaft) and MongoDB, the eventflow images loaded, the
# chart installed and examples/quickstart.yaml Ready, its producer on http://127.0.0.1:30080.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/require-tools.sh
require_tools docker kind helm kubectl

CLUSTER=eventflow   # the name in kind-config.yaml
# A new tag per run, so that a rebuilt image rolls the operator and, through it, the workloads.
TAG=${TAG:-dev-$(date +%Y%m%d-%H%M%S)}
PRODUCER=quickstart-producer   # the Deployment the operator makes for the quickstart pipeline
step() { printf '\n==> %s\n' "$*"; }

step "kind cluster $CLUSTER"
kind get clusters 2>/dev/null | grep -qx "$CLUSTER" || kind create cluster --config kind-config.yaml
kubectl config use-context "kind-$CLUSTER"

step "images"
TAG=$TAG scripts/images.sh
kind load docker-image --name "$CLUSTER" "eventflow-operator:$TAG" "eventflow:$TAG"

step "Kafka and MongoDB"
kubectl apply -k deploy/kind/
kubectl -n kafka rollout status statefulset/kafka --timeout=300s
kubectl -n mongodb rollout status deployment/mongodb --timeout=300s

step "helm install eventflow"
helm upgrade --install eventflow charts/eventflow \
    --namespace eventflow-system --create-namespace \
    --set operator.image.repository=eventflow-operator --set operator.image.tag="$TAG" \
    --set operator.image.pullPolicy=Never \
    --set workload.image.repository=eventflow --set workload.image.tag="$TAG" \
    --set operator.logFormat=plain --wait --timeout 5m

step "examples/quickstart.yaml"
kubectl apply -f examples/quickstart.yaml
kubectl wait eventpipeline/quickstart --for=condition=Ready --timeout=300s
# The operator's producer Service is ClusterIP; a NodePort copy reaches it through kind-config.yaml.
kubectl expose deployment "$PRODUCER" --name "$PRODUCER-nodeport" --type NodePort --port 8080 \
    --overrides '{"apiVersion":"v1","spec":{"ports":[{"port":8080,"targetPort":8080,"nodePort":30080}]}}' \
    --dry-run=client -o yaml | kubectl apply -f -
kubectl get eventpipelines

echo; echo "Ready (images tagged $TAG)."
cat <<'DONE'
Try:
  curl -X POST http://127.0.0.1:30080/v1/events -H 'content-type: application/json' \
    -d '{"type":"demo","source":"/cli","subject":"k1","data":{"hello":"kind"}}'
  curl 'http://127.0.0.1:30080/v1/events?key=k1'
  kubectl get evp -w
Tear down with: make kind-down
DONE
