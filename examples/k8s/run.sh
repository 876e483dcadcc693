#!/bin/sh
# One distributed stockproof run on Kubernetes: N agent pods (an Indexed Job), then
# the merge Job; exits with the merged verdict's code.
#
#   IMAGE=registry.example/stockproof:0.1 TARGET=http://inventory.shop:8080 \
#     AGENTS=4 SEED=1 examples/k8s/run.sh scenarios/flash-sale.toml
#
# Needs kubectl (pointed at the namespace), envsubst, and the stockproof-runs PVC
# (runs-pvc.yaml). START_AT is computed once, here, LEAD_S ahead: long enough for
# every pod to be scheduled, pull the image and start; an agent refuses a start more
# than 2 s in the past.
set -eu
scenario=$1
: "${IMAGE:?}" "${TARGET:?}" "${AGENTS:?}" "${SEED:?}"
LEAD_S=${LEAD_S:-90}
RUN_ID=${RUN_ID:-$(date -u +%Y%m%d%H%M%S | tr -d '\n')}
START_AT=$(date -u -d "+${LEAD_S} seconds" +%Y-%m-%dT%H:%M:%SZ)
export IMAGE TARGET AGENTS SEED RUN_ID START_AT
here=$(dirname "$0")
# Only these names: the pods' shell expands the rest ($JOB_COMPLETION_INDEX…) itself.
vars='${IMAGE} ${TARGET} ${AGENTS} ${SEED} ${RUN_ID} ${START_AT}'
kubectl create configmap "stockproof-scenario-$RUN_ID" --from-file=scenario.toml="$scenario"
envsubst "$vars" < "$here/agents-job.yaml" | kubectl apply -f -
# The agents' own wait: LEAD_S, plus the load, plus its quiesce-free wind-down.
kubectl wait --for=condition=complete --timeout=2h "job/stockproof-agents-$RUN_ID"
envsubst "$vars" < "$here/merge-job.yaml" | kubectl apply -f -
kubectl wait --for=condition=complete --timeout=30m "job/stockproof-merge-$RUN_ID" || true
kubectl logs "job/stockproof-merge-$RUN_ID"
code=$(kubectl get pods -l "job-name=stockproof-merge-$RUN_ID" \
  -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')
exit "${code:-4}"
