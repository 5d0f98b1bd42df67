# The whole test suite, from a fresh machine: installs and starts what the
# tests need, then vets and tests everything. `.ci/run` calls `make test`.
.PHONY: test deps lint unit build bench

test: deps lint unit

deps:
	bash .ci/install-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

unit:
	go test -race -count=1 -timeout 60m ./...

build:
	go build -o bin/modgate ./cmd/modgate

bench:
	bash bench/run.sh
