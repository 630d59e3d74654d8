.PHONY: install build test lint format bench bench-async bench-soak bench-transform run check clean

install:
	npm ci

build:
	npm run build

test:
	npm test

lint:
	npm run lint

format:
	npm run format

run:
	node bin/gw.js run

check:
	node bin/gw.js check -c examples/krakend.json

bench:
	node bench/run.mjs --rounds 3
	node bench/async.mjs
	node bench/soak.mjs

bench-async:
	node bench/async.mjs

bench-soak:
	node bench/soak.mjs

bench-transform:
	npm run bench:transform

clean:
	rm -rf dist build
