#!/usr/bin/env bash
# Installs what modgate's tests need on a fresh Debian machine. Idempotent:
# each step is skipped when its tool is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v npm >/dev/null || need_apt+=(npm)
command -v dot >/dev/null || need_apt+=(graphviz)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "installing ${need_apt[*]} with apt-get"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# actionlint lints action.yml and the sample workflows in the docs.
if ! command -v actionlint >/dev/null && [ ! -x "$(go env GOPATH)/bin/actionlint" ]; then
	echo "installing actionlint"
	go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
fi

# GitHub's OpenAPI description: the bot's fake GitHub validates every
# request and response against it.
if [ ! -f .tools/node_modules/@octokit/openapi/generated/api.github.com.json ]; then
	echo "installing @octokit/openapi"
	npm install --silent --no-audit --no-fund --prefix .tools @octokit/openapi@23.0.2 >/dev/null
fi
