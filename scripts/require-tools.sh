# shellcheck shell=bash
# Sourced by the container and kind scripts: `require_tools docker kind ...` stops with one clear
# message naming every missing tool.
require_tools() {
    local missing=() tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "error: ${missing[*]} not found on PATH; this target needs: $*" >&2
        echo "       (docker: https://docs.docker.com/get-docker/  kind: https://kind.sigs.k8s.io/" >&2
        echo "        helm: https://helm.sh/docs/intro/install/  kubectl: https://kubernetes.io/docs/tasks/tools/)" >&2
        exit 1
    fi
}
