# The two commands of the README, plus lint. Each is a thin alias of a script in scripts/.
.PHONY: run test lint
run:
	bash scripts/run.sh
test:
	bash scripts/test.sh
lint:
	bash scripts/lint.sh
